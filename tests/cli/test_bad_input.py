"""Bad input on the command line: a typed error, exit 2, a message saying what to pass,
nothing written, and no secret echoed back (issue 21, items 11 and 12)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from t0lake.cli import main
from t0lake.lake.storage import open_storage
from tests.lake.synth import EP, day_table, days, export_days
from tests.lakecases import EP as STORE_EP

SECRET = "wJalrXUtnFEMI/K7MDENG"  # the shape of an AWS secret access key


def _error(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, object]:
    """Run ``args`` with --json; the error object, after checking it is bad input (exit 2)."""
    assert main([*args, "--json"]) == 2, args
    captured = capsys.readouterr()
    error: dict[str, object] = json.loads(captured.out)
    assert error["error"] != "InternalError", error
    assert "Traceback" not in captured.err
    return error


def _lake(tmp_path: Path) -> str:
    lake = str(tmp_path / "lake")
    export_days(open_storage(lake), {d: day_table(d, 3) for d in days(date(2026, 1, 1), 2)})
    return lake


def test_hash_of_a_query_postgres_cannot_parse_is_bad_input(
    fresh_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["hash", "--key", "id", "--query", "SELEC", "--dsn", fresh_dsn]
    error = _error(capsys, args)
    assert error["error"] == "ConfigError" and error["parameter"] == "query"
    assert error["sqlstate"] == "42601"
    message = str(error["message"])
    assert "cannot run the query" in message and "syntax error" in message
    assert main(args) == 2  # as text: one line, no traceback
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--debug" not in err  # an internal error would say to rerun with --debug


def test_certify_check_days_is_bounded(store_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    error = _error(
        capsys, ["certify", STORE_EP, "--check-days", "100000000000", "--dsn", store_dsn]
    )
    assert error["error"] == "ConfigError" and error["parameter"] == "check_days"
    assert "36525" in str(error["message"])


def test_scan_out_into_a_missing_directory_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = _lake(tmp_path)
    target = tmp_path / "missing" / "dir" / "x.parquet"
    error = _error(capsys, ["scan", EP, "--lake", lake, "--out", str(target)])
    assert error["error"] == "ConfigError" and error["path"] == str(target)
    assert "does not exist" in str(error["message"])
    assert not (tmp_path / "missing").exists()
    afile = tmp_path / "afile"
    afile.write_text("")
    error = _error(capsys, ["scan", EP, "--lake", lake, "--out", str(afile / "x.csv")])
    assert "is not a directory" in str(error["message"])
    assert main(["scan", EP, "--lake", lake, "--out", str(tmp_path / "x.parquet")]) == 0
    assert (tmp_path / "x.parquet").is_file()


@pytest.mark.parametrize("columns", [",,,", "", " , ,"])
def test_scan_columns_naming_no_column_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], columns: str
) -> None:
    error = _error(capsys, ["scan", EP, "--lake", _lake(tmp_path), "--columns", columns])
    assert "--columns names no column" in str(error["message"])


def test_an_upper_case_entrypoint_is_refused_with_its_lower_case_spelling(
    store_dsn: str, lake_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["export", "LK.Features_V", "--lake", lake_dir, "--dsn", store_dsn]
    error = _error(capsys, args)
    assert error["entrypoint"] == "LK.Features_V" and "'lk.features_v'" in str(error["message"])
    assert not Path(lake_dir).exists()


@pytest.mark.parametrize(
    "options",
    [[SECRET], ["endpoint_url=http://x", SECRET], [f"={SECRET}"], [f" ={SECRET}"]],
)
def test_a_malformed_storage_option_is_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    lake = _lake(tmp_path)
    args = ["snapshots", EP, "--lake", lake]
    for option in options:
        args += ["--storage-option", option]
    for extra in (["--json"], [], ["--debug"]):
        assert main([*args, *extra]) == 2
        captured = capsys.readouterr()
        assert SECRET not in captured.out + captured.err
        assert "KEY=VALUE" in captured.out + captured.err
    assert main([*args, "--json"]) == 2
    position = "2nd" if len(options) == 2 else "1st"
    assert position in json.loads(capsys.readouterr().out)["message"]


def test_an_unknown_s3_storage_option_names_the_key_not_its_value(
    s3_options: dict[str, object], s3_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["snapshots", EP, "--lake", f"s3://{s3_bucket}/lake"]
    for key, value in {**s3_options, "secret_key_typo": SECRET}.items():
        args += ["--storage-option", f"{key}={value}"]
    error = _error(capsys, args)
    assert "secret_key_typo" in str(error["message"])
    assert SECRET not in json.dumps(error)
