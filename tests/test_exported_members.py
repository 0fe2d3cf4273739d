"""The public surface is explicit: __all__ lists exactly the public names, and each exists."""

import importlib
import pkgutil

import pytest

import t0lake

MODULES = [
    "t0lake",
    "t0lake.errors",
    "t0lake.hashing",
    "t0lake.pg",
    "t0lake.tempdb",
    "t0lake.cli",
    "t0lake.cli.app",
    "t0lake.cli.demo",
    "t0lake.cli.lake",
    "t0lake.cli.options",
    "t0lake.cli.store",
    "t0lake.certify",
    "t0lake.dates",
    "t0lake.durations",
    "t0lake.storage",
    "t0lake.manifest",
    "t0lake.commit",
    "t0lake.export",
    "t0lake.read",
    "t0lake.backtest",
    "t0lake.pit",
    "t0lake.lineage",
    "t0lake.demo",
    "t0lake.fv_schema",
    "t0lake.fv_codec",
    "t0lake.fv_record",
    "t0lake.fv_registry",
    "t0lake.fv_write",
    "t0lake.fv_read",
    "t0lake.fv_cache",
    "t0lake.fv_metrics",
    "t0lake.vectors",
    "t0lake.jit",
]


def test_every_module_of_the_package_is_checked() -> None:
    found = {"t0lake"} | {
        m.name
        for m in pkgutil.walk_packages(t0lake.__path__, "t0lake.")
        if m.name != "t0lake.__main__"
    }
    assert found == set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_explicit_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names missing {member}"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", name) == name and callable(v)
    }
    assert public <= exported, f"public but not exported from {name}: {public - exported}"


def test_contract_names_of_design_are_exported() -> None:
    for name in [
        "T0LakeError",
        "NotCertifiedError",
        "IntegrityError",
        "DriftError",
        "T0ViolationError",
        "SchemaVersionError",
        "ConfigError",
        "CommitConflictError",
        "CommitStateUnknownError",
        "dataset_hash",
        "certify",
        "require_certified",
        "open",
        "export",
        "Lake",
        "Snapshot",
    ]:
        assert name in t0lake.__all__
