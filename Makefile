# The two commands of the README: `make demo` and `make test`. Both install what they need
# (uv, then the locked dependencies into .venv) on a machine with Python 3.11 and the
# PostgreSQL 15 server binaries.
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen --no-python-downloads
export UV_PYTHON_DOWNLOADS := never

.PHONY: install native-hash test lint demo bench reliability

install:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --frozen --python $(PYTHON)

# The t0lake_hash Postgres extension: the SQL hash's column digests as a C aggregate (same
# bytes, a fraction of the CPU). Needs the server headers (Debian: postgresql-server-dev-15)
# and the right to write into the server's directories. Optional: without it the pure-SQL
# path serves.
native-hash:
	$(MAKE) -C ext/t0lake_hash
	$(MAKE) -C ext/t0lake_hash install

lint: install
	$(RUN) lint-imports
	$(RUN) ruff check t0lake tests benchmarks
	$(RUN) mypy

test: lint
	$(RUN) pytest

demo: install
	$(RUN) t0lake demo

bench: install
	$(RUN) python benchmarks/bench_hash.py
	$(RUN) python benchmarks/bench_export.py
	$(RUN) python benchmarks/bench_scan.py
	$(RUN) python benchmarks/bench_pit.py
	$(RUN) python benchmarks/bench_online.py
	$(RUN) python benchmarks/bench_compact.py

# The hardening harness (docs/reliability.md): every operation killed at every storage I/O
# step on local disk and S3, and a storm of writers and readers on one lake; <= 15 minutes
# on 2 cores, against a throwaway PostgreSQL and a moto S3 server. Rewrites the tables of
# docs/reliability.md. RELIABILITY_ARGS=--quick for a sample in a few minutes.
reliability: install
	$(RUN) python benchmarks/reliability.py $(RELIABILITY_ARGS)
