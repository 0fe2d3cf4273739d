"""The public surface is explicit: __all__ lists exactly the public names, and each exists."""

import importlib
import pkgutil

import pytest

import t0lake

MODULES = [
    "t0lake",
    "t0lake._util",
    "t0lake._util.canonical_json",
    "t0lake._util.days",
    "t0lake._util.durations",
    "t0lake._util.fanout",
    "t0lake._util.frames",
    "t0lake._util.jit",
    "t0lake._util.jit_copy",
    "t0lake._util.progress",
    "t0lake._version",
    "t0lake.backtest",
    "t0lake.certification",
    "t0lake.cli",
    "t0lake.cli.app",
    "t0lake.cli.db",
    "t0lake.cli.demo",
    "t0lake.cli.engines",
    "t0lake.cli.lake",
    "t0lake.cli.maintenance",
    "t0lake.cli.vectors",
    "t0lake.cli.options",
    "t0lake.cli.output",
    "t0lake.demo",
    "t0lake.errors",
    "t0lake.exporter",
    "t0lake.exporter.export",
    "t0lake.exporter.plan",
    "t0lake.exporter.registry",
    "t0lake.exporter.tasks",
    "t0lake.hashing",
    "t0lake.hashing.dataset",
    "t0lake.hashing.order",
    "t0lake.hashing.ranges",
    "t0lake.hashing.streams",
    "t0lake.hashing.text",
    "t0lake.hashing.types",
    "t0lake.hashing.views",
    "t0lake.lake",
    "t0lake.lake.commit",
    "t0lake.lake.dask_read",
    "t0lake.lake.filecheck",
    "t0lake.lake.layout",
    "t0lake.lake.log",
    "t0lake.lake.maintenance",
    "t0lake.lake.maintenance.compact",
    "t0lake.lake.maintenance.downsample",
    "t0lake.lake.maintenance.history",
    "t0lake.lake.maintenance.policy",
    "t0lake.lake.maintenance.vacuum",
    "t0lake.lake.manifest",
    "t0lake.lake.operations",
    "t0lake.lake.operations.compact",
    "t0lake.lake.operations.history",
    "t0lake.lake.operations.replace_days",
    "t0lake.lake.reader",
    "t0lake.lake.snapshot",
    "t0lake.lake.storage",
    "t0lake.lake.storage.base",
    "t0lake.lake.storage.local",
    "t0lake.lake.storage.paths",
    "t0lake.lake.storage.s3",
    "t0lake.lake.tiers",
    "t0lake.lake.verify",
    "t0lake.lake.writer",
    "t0lake.lineage",
    "t0lake.mirror",
    "t0lake.mirror.catalog",
    "t0lake.mirror.deletes",
    "t0lake.mirror.run",
    "t0lake.mirror.schema",
    "t0lake.mirror.sync",
    "t0lake.pg",
    "t0lake.pg.arrow",
    "t0lake.pg.audit",
    "t0lake.pg.connect",
    "t0lake.pg.days",
    "t0lake.pg.errors",
    "t0lake.pg.hashes",
    "t0lake.pg.install",
    "t0lake.pg.notify",
    "t0lake.pg.registry",
    "t0lake.pg.snapshots",
    "t0lake.pg.status",
    "t0lake.pg.types",
    "t0lake.pg.vector_retention",
    "t0lake.pit",
    "t0lake.pit.distributed",
    "t0lake.pit.inputs",
    "t0lake.pit.join",
    "t0lake.pit.kernel",
    "t0lake.pit.spec",
    "t0lake.pit.times",
    "t0lake.spark",
    "t0lake.testing",
    "t0lake.testing.crashpoints",
    "t0lake.testing.ports",
    "t0lake.testing.postgres",
    "t0lake.testing.s3",
    "t0lake.testing.s3proxy",
    "t0lake.vectors",
    "t0lake.vectors.cache",
    "t0lake.vectors.codec",
    "t0lake.vectors.downsample",
    "t0lake.vectors.metrics",
    "t0lake.vectors.read",
    "t0lake.vectors.record",
    "t0lake.vectors.registry",
    "t0lake.vectors.retain",
    "t0lake.vectors.schema",
    "t0lake.vectors.store",
    "t0lake.vectors.tiers",
    "t0lake.vectors.write",
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
