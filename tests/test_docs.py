"""The reference docs stay honest: docs/cli.md names every command, option and T0LAKE_*
variable; docs/errors.md names every error class and every context key a raise site uses;
and the README and docs link only to files inside the repository."""

from __future__ import annotations

import ast
import itertools
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from t0lake import errors
from t0lake.cli.app import cli

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "t0lake"
CLI_MD = ROOT / "docs" / "cli.md"
ERRORS_MD = ROOT / "docs" / "errors.md"
ENV_NAME = re.compile(r"\bT0LAKE_[A-Z0-9_]*[A-Z0-9]\b")
ERROR_CLASSES = frozenset(errors.__all__)
ANY = "*"  # context keys of `type(exc)(...)`: the class is only known at run time


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


# --------------------------------------------------------------------------- the click app


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{path} ")


COMMANDS = dict(_commands(cli))


def _section(text: str, heading: str) -> str:
    """The body under a markdown heading line, up to the next heading of the same or a
    higher level ('' when the heading is absent)."""
    match = re.search(rf"^(#+) {re.escape(heading)}[ \t]*$", text, re.MULTILINE)
    if match is None:
        return ""
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def test_the_app_has_the_commands_this_test_walks() -> None:
    assert {"db", "db init", "export", "verify", "compact"} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_a_section_in_cli_md(path: str) -> None:
    assert _section(_read(CLI_MD), f"`t0lake {path}`"), (
        f"docs/cli.md has no heading `t0lake {path}` for the command"
    )


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_and_argument_is_in_its_section(path: str) -> None:
    section = _section(_read(CLI_MD), f"`t0lake {path}`")
    command = COMMANDS[path]
    missing = []
    for param in command.params:
        if isinstance(param, click.Option):
            names = [n for n in [*param.opts, *param.secondary_opts] if n.startswith("--")]
            missing += [n for n in names if f"`{n}" not in section]
        elif isinstance(param, click.Argument) and param.metavar != "":
            metavar = param.make_metavar(click.Context(command)).strip("[]. ")
            if metavar and metavar not in section:
                missing.append(metavar)
    # --json/--debug (and --help) are the global options, documented once for all commands
    missing = [m for m in missing if m not in ("--json", "--debug", "--help")]
    assert not missing, f"docs/cli.md, `t0lake {path}`: undocumented {missing}"


def test_global_options_are_documented() -> None:
    section = _section(_read(CLI_MD), "Global options")
    for option in cli.params:
        for name in option.opts:
            if name.startswith("--") and name != "--help":
                assert f"`{name}`" in section, f"global option {name} is not documented"


# --------------------------------------------------------------------------- T0LAKE_*


def _env_names(paths: list[Path]) -> set[str]:
    return {name for p in paths for name in ENV_NAME.findall(_read(p))}


def test_every_t0lake_variable_of_the_package_is_documented() -> None:
    names = _env_names(_sources())
    assert {"T0LAKE_PG_DSN", "T0LAKE_LAKE"} <= names  # the scan itself works
    text = _read(CLI_MD)
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"docs/cli.md does not document {missing}"


def test_every_t0lake_variable_of_ci_and_benchmarks_is_documented() -> None:
    paths = [ROOT / "Makefile", *sorted((ROOT / ".ci").glob("*"))]
    paths += [*sorted((ROOT / "benchmarks").glob("*.py")), ROOT / "tests" / "conftest.py"]
    names = _env_names([p for p in paths if p.is_file()])
    text = _read(CLI_MD)
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"docs/cli.md does not document {missing}"


# --------------------------------------------------------------------------- error classes


@pytest.mark.parametrize("name", sorted(ERROR_CLASSES))
def test_every_error_class_has_a_section_in_errors_md(name: str) -> None:
    assert _section(_read(ERRORS_MD), f"`{name}`"), f"docs/errors.md has no heading `{name}`"


@pytest.mark.parametrize("name", sorted(ERROR_CLASSES))
def test_errors_md_states_each_exit_code(name: str) -> None:
    section = " ".join(_section(_read(ERRORS_MD), f"`{name}`").split())
    exit_code = getattr(errors, name).exit_code
    assert f"Exit code: {exit_code}." in section, f"docs/errors.md, `{name}`: wrong exit code"


# --------------------------------------------------------------------------- context keys


class _Module:
    """What one module of the package says about context keys at error construction sites:
    keyword arguments of calls to an error class, to a local bound to one (``kind = _MAP.get(
    ...); kind(...)``) or to a helper that passes its ``**kwargs`` on to one (``integrity``,
    ``_corrupt``, ``_invalid``), and the string keys of a local dict splatted into one."""

    def __init__(self, path: Path) -> None:
        self.where = str(path.relative_to(ROOT))
        self.tree = ast.parse(_read(path), filename=str(path))
        # module-level dicts whose values are error classes (`_ERROR_BY_GATE`)
        self.maps: dict[str, set[str]] = {}
        for node in self.tree.body:
            target, value = _assignment(node)
            if isinstance(target, ast.Name) and isinstance(value, ast.Dict):
                classes = {v.id for v in value.values if isinstance(v, ast.Name)}
                if classes and classes <= ERROR_CLASSES:
                    self.maps[target.id] = classes
        # the names a helper may be called by here: defined here or imported
        self.names = {n.name for n in ast.walk(self.tree) if isinstance(n, ast.FunctionDef)} | {
            a.asname or a.name
            for n in ast.walk(self.tree)
            if isinstance(n, ast.ImportFrom)
            for a in n.names
        }

    def scopes(self) -> Iterator[ast.Module | ast.FunctionDef | ast.AsyncFunctionDef]:
        yield self.tree
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield node

    def error_variables(self, scope: ast.AST) -> dict[str, set[str]]:
        """Local names bound to an error class (`kind = _ERROR_BY_GATE.get(..., X)`)."""
        found: dict[str, set[str]] = defaultdict(set)
        if isinstance(scope, ast.Module):
            return found
        for node in _walk_scope(scope):
            target, value = _assignment(node)
            if isinstance(target, ast.Name) and value is not None:
                for name in ast.walk(value):
                    if isinstance(name, ast.Name):
                        if name.id in ERROR_CLASSES:
                            found[target.id].add(name.id)
                        found[target.id] |= self.maps.get(name.id, set())
        return {k: v for k, v in found.items() if v}


def _walk_scope(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of one scope: not those of the functions and classes defined in it."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            todo.extend(ast.iter_child_nodes(node))


def _assignment(node: ast.AST) -> tuple[ast.expr | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        return node.targets[0], node.value
    if isinstance(node, ast.AnnAssign):
        return node.target, node.value
    return None, None


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _dict_keys(scope: ast.AST, name: str) -> set[str]:
    """String keys a scope puts into its local dict ``name``."""
    keys: set[str] = set()
    for node in _walk_scope(scope):
        target, value = _assignment(node)
        if isinstance(target, ast.Name) and target.id == name:
            if isinstance(value, ast.Dict):
                keys |= {str(k.value) for k in value.keys if isinstance(k, ast.Constant)}
            elif isinstance(value, ast.Call) and _callee(value) == "dict":
                keys |= {k.arg for k in value.keywords if k.arg}
        if (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and target.value.id == name
            and isinstance(target.slice, ast.Constant)
        ):
            keys.add(str(target.slice.value))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == name
        ):
            if node.func.attr == "update":
                keys |= {k.arg for k in node.keywords if k.arg}
            if node.func.attr == "setdefault" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    keys.add(str(first.value))
    return keys


def _parameters(func: ast.AST) -> set[str]:
    assert isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
    args = func.args
    return {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}


Factories = dict[str, tuple[set[str], set[str]]]  # helper -> (classes it builds, its params)


def _classes_of(
    call: ast.Call, variables: dict[str, set[str]], factories: Factories, module: _Module
) -> tuple[set[str], set[str]]:
    """The error classes a call builds, and the helper parameters that are not context."""
    name = _callee(call)
    if name in ERROR_CLASSES:
        return {name}, set()
    if isinstance(call.func, ast.Name) and name in variables:
        return variables[name], set()
    if isinstance(call.func, ast.Name) and name in factories and name in module.names:
        return factories[name]
    if isinstance(call.func, ast.Call) and _callee(call.func) == "type":
        return {ANY}, set()
    return set(), set()


def context_keys() -> dict[str, dict[str, set[str]]]:
    """Per error class ('*' for `type(exc)(...)`), each context key and where it is used."""
    modules = [_Module(p) for p in _sources()]
    keys: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    factories: Factories = {}
    for _ in range(5):  # helpers of helpers: fail(...) -> _corrupt(...) -> IntegrityError
        for module in modules:
            for scope in module.scopes():
                variables = module.error_variables(scope)
                kwargs = None
                if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) and scope.args.kwarg:
                    kwargs = scope.args.kwarg.arg
                for call in _walk_scope(scope):
                    if not isinstance(call, ast.Call):
                        continue
                    classes, own = _classes_of(call, variables, factories, module)
                    where = f"{module.where}:{call.lineno}"
                    for kw in call.keywords if classes else []:
                        if kw.arg is not None and kw.arg not in own:
                            for cls in classes:
                                keys[cls][kw.arg].add(where)
                        elif kw.arg is None and isinstance(kw.value, ast.Name):
                            if kw.value.id == kwargs:  # a helper: its callers give the keys
                                assert isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef)
                                built = factories.get(scope.name, (set(), set()))[0]
                                factories[scope.name] = (built | classes, _parameters(scope))
                            for key in _dict_keys(scope, kw.value.id):
                                for cls in classes:
                                    keys[cls][key].add(where)
    return keys


KEYS = context_keys()


def test_the_context_key_scan_sees_direct_helper_and_dynamic_sites() -> None:
    assert "entrypoint" in KEYS["DriftError"]  # raise DriftError(..., entrypoint=...)
    assert "file" in KEYS["IntegrityError"]  # via the integrity(...) helper
    assert "row" in KEYS["IntegrityError"]  # via fail(...) -> _corrupt(...)
    assert "field" in KEYS["InvalidVectorError"]  # via _invalid(...)
    assert "gate" in KEYS["NotCertifiedError"]  # kind = _ERROR_BY_GATE.get(...); kind(...)
    assert "detail" in KEYS["ConfigError"]  # context = {"detail": ...}; kind(**context)


def _key_rows(text: str) -> set[str]:
    return set(re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|", text, re.MULTILINE))


def test_every_context_key_has_a_row_in_the_key_table() -> None:
    table = _key_rows(_section(_read(ERRORS_MD), "Context keys"))
    used = {key for per_class in KEYS.values() for key in per_class}
    missing = {k: sorted(next(iter(KEYS[c][k])) for c in KEYS if k in KEYS[c]) for k in used}
    missing = {k: v for k, v in missing.items() if k not in table}
    assert not missing, f"docs/errors.md, Context keys: no row for {missing}"


@pytest.mark.parametrize("name", sorted(ERROR_CLASSES))
def test_each_class_section_names_its_context_keys(name: str) -> None:
    section = _section(_read(ERRORS_MD), f"`{name}`")
    missing = sorted(k for k in KEYS.get(name, {}) if f"`{k}`" not in section)
    assert not missing, f"docs/errors.md, `{name}`: context keys not named: {missing}"


# --------------------------------------------------------------------------- links

LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1", re.DOTALL)
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _link_targets(text: str) -> list[str]:
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    return LINK.findall(prose) + REFERENCE.findall(prose)


def test_the_link_scan_finds_links() -> None:
    sample = '[a](x.md) [`b`](../y.md#z "t") `[c](no.md)`\n```\n[d](no2.md)\n```\n[e]: ref.md\n'
    assert _link_targets(sample) == ["x.md", "../y.md#z", "ref.md"]


@pytest.mark.parametrize("doc", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    bad = []
    for target in _link_targets(_read(doc)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue  # http(s)://, mailto: and in-page anchors
        relative = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (
            (ROOT / relative.lstrip("/")) if relative.startswith("/") else (doc.parent / relative)
        )
        resolved = resolved.resolve()
        if not resolved.is_relative_to(ROOT):
            bad.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            bad.append(f"{target} (no such path)")
    assert not bad, f"{doc.relative_to(ROOT)} links to {bad}"


# --------------------------------------------------------------------------- runbook commands

SHELL_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _documented_invocations() -> list[tuple[str, list[str]]]:
    """Every ``t0lake …`` line of the bash blocks of the README and the runbook."""
    found = []
    for path in (ROOT / "README.md", ROOT / "docs" / "maintenance.md"):
        for block in SHELL_BLOCK.findall(_read(path)):
            for line in block.replace("\\\n", " ").splitlines():
                for part in line.split("&&"):
                    words = shlex.split(part.split("#", 1)[0])
                    if words[:1] == [".venv/bin/t0lake"]:  # the README's form after install
                        words[0] = "t0lake"
                    if words[:1] == ["t0lake"]:
                        found.append((path.name, words[1:]))
    return found


def test_the_runbook_scan_finds_the_commands() -> None:
    names = {words[0] for _, words in _documented_invocations()}
    assert {"compact", "expire", "vacuum", "pin", "unpin", "policy", "export"} <= names


@pytest.mark.parametrize("where_words", _documented_invocations(), ids=lambda w: " ".join(w[1]))
def test_every_documented_invocation_parses(
    where_words: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command line the docs show is accepted by the command's parser as written (the
    files it reads with `--file`, made earlier in the docs' flow, exist here empty)."""
    where, words = where_words
    if words[0].startswith("-"):  # `t0lake --help`: an option of the group itself
        assert words[0] in {n for p in cli.params for n in p.opts} | {"--help", "-h"}
        return
    monkeypatch.chdir(tmp_path)
    for option, value in itertools.pairwise(words):
        if option == "--file":
            (tmp_path / value).touch()
    command = COMMANDS.get(words[0])
    assert command is not None, f"{where}: no command {words[0]!r}"
    context = command.make_context(words[0], list(words[1:]), resilient_parsing=False)
    assert context.params is not None


def test_the_scan_finds_the_readme_lines_of_the_installed_command() -> None:
    readme = [words[0] for where, words in _documented_invocations() if where == "README.md"]
    assert {"db", "certify", "export", "scan", "hash", "verify"} <= set(readme)


# --------------------------------------------------------------------------- README quick start

QUICK_START = "From nothing to a verified scan"
STEP = re.compile(r"^__STEP__ (\d+) (\d+) (.*)$")


def _quick_start() -> list[str]:
    """The commands of the README's quick start, one per line as bash joins them."""
    blocks = SHELL_BLOCK.findall(_section(_read(ROOT / "README.md"), QUICK_START))
    assert len(blocks) == 1, f"README.md: one bash block under '{QUICK_START}'"
    return [line for line in blocks[0].replace("\\\n", "").splitlines() if line.strip()]


def test_the_readme_quick_start_runs_as_pasted() -> None:
    """Every line of the quick start, in order, in one bash, from an empty directory: each
    exits 0, the server it starts is reached through the exported DSN, the scanned extract
    hashes like the same rows in PostgreSQL, and `db down` leaves nothing behind. Only
    `make install` is not re-run: this test runs in the environment it made."""
    commands = _quick_start()
    assert commands[0].split("#")[0].split() == ["make", "install"]
    assert (ROOT / ".venv" / "bin" / "t0lake").exists()
    work = Path(tempfile.mkdtemp(prefix="t0lake-readme-"))
    work.chmod(0o755)  # db up's default directory under root is $TMPDIR/t0lake-db
    try:
        (work / ".venv").symlink_to(ROOT / ".venv")
        script = "".join(
            f'{command}\nrc=$?; echo "__STEP__ {i} $rc ${{T0LAKE_PG_DSN-unset}}"; '
            f"[ $rc -eq 0 ] || exit $rc\n"
            for i, command in enumerate(commands[1:], start=1)
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("T0LAKE_")}
        env.update(TMPDIR=str(work), XDG_CACHE_HOME=str(work / "cache"), HOME=str(work))
        started = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        seconds = time.monotonic() - started
        steps: dict[int, tuple[int, str, list[str]]] = {}
        output: list[str] = []
        for line in done.stdout.splitlines():
            match = STEP.match(line)
            if match is None:
                output.append(line)
                continue
            steps[int(match[1])] = (int(match[2]), match[3], output)
            output = []
        failed = [(commands[i], rc) for i, (rc, _, _) in steps.items() if rc != 0]
        assert not failed and done.returncode == 0, (failed, done.stderr[-2000:])
        assert sorted(steps) == list(range(1, len(commands))), done.stderr[-2000:]

        by_command = {i: commands[i].split("#")[0].split()[:3] for i in steps}
        up = next(i for i in steps if "t0lake db up" in commands[i])
        assert steps[up][1].startswith("host=127.0.0.1 port=")  # the eval set the DSN
        assert "error" not in done.stderr.lower(), done.stderr[-2000:]
        hashes = [steps[i][2] for i, c in by_command.items() if c[1:2] == ["hash"]]
        assert len(hashes) == 2 and hashes[0] == hashes[1]
        assert re.fullmatch(r"[0-9a-f]{64}", hashes[0][0])
        assert (work / "week.parquet").exists()
        assert steps[max(steps)][1] == "unset"  # db down unset the variable
        assert not (work / "cache" / "t0lake" / "db").exists()
        assert not (work / "t0lake-db").exists()
        assert seconds < 60, f"the quick start took {seconds:.0f}s (about 20s unloaded)"
    finally:
        for where in (work / "cache" / "t0lake" / "db", work / "t0lake-db"):
            if where.exists():
                subprocess.run(
                    [str(ROOT / ".venv" / "bin" / "t0lake"), "db", "down", "--dir", str(where)],
                    capture_output=True,
                    check=False,
                )
        shutil.rmtree(work, ignore_errors=True)
