"""``t0lake mirror`` on an S3 lake (moto) and a PostgreSQL catalog: lake commits made
without the mirror (a mirror step that never ran, as if the process died after each commit)
are caught up by one run, a second run changes nothing, and a maintenance command given
the catalog mirrors its own commit."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

import t0lake
from t0lake.cli.app import main
from t0lake.lake.storage import open_storage
from tests.lake.synth import EP, day_table, days, export_days
from tests.mirror.conftest import check_mirror, load_table


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_mirror_catches_up_an_s3_lake_and_a_second_run_changes_nothing(
    s3_bucket: str,
    s3_options: dict[str, object],
    catalog_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"s3://{s3_bucket}/lake"
    storage = open_storage(url, dict(s3_options))
    export_days(storage, {d: day_table(d, 3) for d in days(date(2025, 10, 26), 10)})  # 1
    export_days(storage, {date(2025, 11, 2): day_table(date(2025, 11, 2), 4, version=1)})  # 2
    t0lake.compact(url, as_of=date(2025, 12, 1), storage_options=dict(s3_options), progress=False)
    options = [arg for k, v in s3_options.items() for arg in ("--storage-option", f"{k}={v}")]
    common = ["--lake", url, *options, "--iceberg-catalog", catalog_url]

    code, out = _run(capsys, "mirror", EP, *common)
    assert code == 0, out
    (result,) = out["results"]
    assert result["mirrored"] == [1, 2, 3] and result["mirrored_before"] is None
    table = load_table(catalog_url, url, EP, dict(s3_options))
    assert table.location().startswith(f"s3://{s3_bucket}/lake/_iceberg/")
    check_mirror(table, url, EP, dict(s3_options))

    before = table.metadata_location
    code, out = _run(capsys, "mirror", *common)  # every entrypoint of the lake: just one
    assert code == 0 and out["results"][0]["mirrored"] == []
    assert load_table(catalog_url, url, EP, dict(s3_options)).metadata_location == before

    code, out = _run(capsys, "pin", EP, "2", "--name", "paper", *common)
    assert code == 0 and out["committed"] and out["mirror"]["mirrored"] == [4]
    check_mirror(load_table(catalog_url, url, EP, dict(s3_options)), url, EP, dict(s3_options))


def test_mirror_without_a_catalog_or_with_a_bad_one_is_bad_input(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("T0LAKE_ICEBERG_CATALOG", raising=False)
    root = str(tmp_path / "lake")
    export_days(open_storage(root), {date(2025, 10, 1): day_table(date(2025, 10, 1), 2)})
    code, out = _run(capsys, "mirror", EP, "--lake", root)
    assert code == 2 and out["parameter"] == "iceberg_catalog"
    code, out = _run(
        capsys, "mirror", EP, "--lake", root, "--iceberg-catalog", "nosuchdb://u:hunter2@h/x"
    )
    assert code == 2 and "hunter2" not in json.dumps(out)
    assert not (tmp_path / "lake" / "_iceberg").exists()
