"""``import t0lake`` loads the errors and nothing heavy; every public name loads on use."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import t0lake

HEAVY = ["psycopg", "prometheus_client", "numba", "adbc_driver_postgresql", "adbc_driver_manager"]


def _fresh(script: str) -> object:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_t0lake_loads_no_postgres_driver_metrics_or_numba() -> None:
    loaded = _fresh(
        f"import json, sys, t0lake\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert loaded == []


def test_a_lake_name_loads_the_lake_but_not_postgres_or_metrics() -> None:
    loaded = _fresh(
        "import json, sys, t0lake\n"
        "t0lake.open, t0lake.Snapshot\n"
        f"print(json.dumps([m for m in {[*HEAVY, 't0lake.lake']!r} if m in sys.modules]))"
    )
    assert loaded == ["t0lake.lake"]


@pytest.mark.parametrize("name", t0lake.__all__)
def test_every_public_name_is_in_dir_and_is_its_module_s_object(name: str) -> None:
    assert name in dir(t0lake)
    value = getattr(t0lake, name)
    assert callable(value) or name in ("backtest", "__version__")  # never a submodule by mistake
    target = t0lake._LAZY.get(name)
    if target is not None:
        module = importlib.import_module(target[0])
        assert value is (module if target[1] is None else getattr(module, target[1]))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'pit_joins'"):
        t0lake.pit_joins  # noqa: B018
    assert not hasattr(t0lake, "psycopg")
