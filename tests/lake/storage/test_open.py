"""Lake URLs: a typo is refused before anything is written; one spelling per lake."""

from __future__ import annotations

from pathlib import Path

import pytest

import t0lake
from t0lake.lake.storage import open_storage


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("s3:/bucket/lake", "two slashes"),
        ("file:/tmp/lake", "two slashes"),
        ("nosuch://bucket/lake", "cannot open lake"),
        ("", "empty"),
    ],
)
def test_malformed_urls_are_refused_and_nothing_is_created(
    url: str, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(t0lake.ConfigError, match=match):
        open_storage(url)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spelling", ["{root}", "{root}/", "/{root}", "{root}//", "{root}/./"])
def test_every_spelling_of_a_local_lake_is_one_canonical_url(tmp_path: Path, spelling: str) -> None:
    root = str(tmp_path / "lake")
    assert open_storage(spelling.format(root=root)).canonical_url == root


def test_relative_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_storage("dir/lake/").canonical_url == str(tmp_path / "dir" / "lake")


def test_s3_urls_are_canonical_without_trailing_slashes(
    s3_bucket: str, s3_options: dict[str, object]
) -> None:
    storage = open_storage(f"s3://{s3_bucket}/prefix/", s3_options)
    assert storage.canonical_url == f"s3://{s3_bucket}/prefix"


def test_s3_misconfiguration_is_a_config_error_saying_what_to_set(
    s3_bucket: str, s3_options: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    endpoint = {"endpoint_url": s3_options["endpoint_url"]}
    cases = [
        ("s3://no-such-bucket/lake", s3_options, "does not exist"),
        (f"s3://{s3_bucket}/lake", {**s3_options, "colour": "blue"}, "not one s3fs knows"),
        (f"s3://{s3_bucket}/lake", endpoint, "no S3 credentials"),
    ]
    for url, options, match in cases:
        with pytest.raises(t0lake.ConfigError, match=match) as info:
            open_storage(url, dict(options))
        assert info.value.exit_code == 2
    with pytest.raises(t0lake.ConfigError, match="cannot reach S3") as info:
        unreachable = {**s3_options, "endpoint_url": "http://AKIAPLANTED:s3cr3t@127.0.0.1:9"}
        open_storage(f"s3://{s3_bucket}/lake", unreachable)
    assert "http://127.0.0.1:9" in info.value.message
    assert "s3cr3t" not in info.value.message and "AKIAPLANTED" not in info.value.message
    assert open_storage(f"s3://{s3_bucket}/lake", dict(s3_options)).exists("x") is False


def test_scan_writes_an_extract_to_s3(
    s3_bucket: str, s3_options: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    from datetime import date

    import pyarrow.parquet as pq
    import s3fs

    from t0lake.cli import main
    from tests.lake.synth import day_table, days, export_days

    lake = f"s3://{s3_bucket}/lake"
    export_days(
        open_storage(lake, dict(s3_options)),
        {d: day_table(d, 4) for d in days(date(2026, 1, 1), 2)},
    )
    options = [arg for k, v in s3_options.items() for arg in ("--storage-option", f"{k}={v}")]
    out = f"s3://{s3_bucket}/extracts/rows.parquet"
    assert main(["scan", "syn.events_v", "--lake", lake, *options, "--out", out, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == out
    with s3fs.S3FileSystem(**s3_options).open(out, "rb") as fh:
        assert pq.read_table(fh).num_rows == 8


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("lake\x00x", "NUL"),
        ("s3://", "names no bucket"),
        ("s3:////", "names no bucket"),
        ("s3:///lake", "names no bucket"),  # a prefix, but the bucket left empty
    ],
)
def test_urls_naming_nothing_are_config_errors(url: str, match: str) -> None:
    with pytest.raises(t0lake.ConfigError, match=match):
        open_storage(url)


def test_a_lake_that_is_a_file_cannot_be_written(tmp_path: Path) -> None:
    """``/dev/null`` or a regular file as the lake: refused before any write, not a
    NotADirectoryError in the middle of one."""
    plain = tmp_path / "plain.txt"
    plain.write_text("not a lake")
    for root in (str(plain), "/dev/null"):
        with pytest.raises(t0lake.ConfigError, match="is a file, not a directory"):
            open_storage(root).check_commits()
    assert plain.read_text() == "not a lake"


def test_options_or_bucket_names_s3_cannot_use_are_config_errors(
    s3_bucket: str, s3_options: dict[str, object]
) -> None:
    """botocore refuses these before any request, with ValueError, AttributeError or its
    ParamValidationError: each used to escape as an InternalError."""
    cases = [
        ("s3://\x91bad/lake", dict(s3_options)),
        (f"s3://{s3_bucket}/lake", {**s3_options, "endpoint_url": "not a url"}),
        (f"s3://{s3_bucket}/lake", {**s3_options, "client_kwargs": "x"}),
    ]
    for url, options in cases:
        with pytest.raises(t0lake.ConfigError, match="S3 cannot use"):
            open_storage(url, options)


def test_a_lake_url_padded_with_white_space_is_refused() -> None:
    """fsspec strips the padding, so `' /lake'` would silently be `/lake`."""
    for url in (" /tmp/lake", "/tmp/lake\n", "s3://bucket/lake "):
        with pytest.raises(t0lake.ConfigError, match="white space"):
            open_storage(url)


def test_a_read_only_filesystem_that_fails_is_a_storage_error() -> None:
    """An http:// lake whose server is gone: aiohttp's connection error (an OSError) used
    to escape from entrypoints() untyped."""
    from t0lake.testing.ports import free_port

    with pytest.raises(t0lake.StorageError, match="ClientConnectorError") as caught:
        t0lake.open(f"http://127.0.0.1:{free_port()}/lake").entrypoints()
    assert "the lake root" in caught.value.message


def test_s3_refusing_a_read_is_a_storage_error(
    s3_bucket: str, s3_options: dict[str, object]
) -> None:
    """403 on a read (here: anonymous access to a private bucket) used to escape as a bare
    PermissionError."""
    storage = open_storage(f"s3://{s3_bucket}/lake", dict(s3_options))
    storage.write_bytes("x/y", b"1")
    anonymous = open_storage(
        f"s3://{s3_bucket}/lake",
        {"endpoint_url": s3_options["endpoint_url"], "anon": True},
        check=False,
    )
    try:
        anonymous.read_bytes("x/y")
    except t0lake.StorageError as exc:
        assert "refuses" in exc.message
    else:  # moto serves anonymous reads of private buckets: nothing to refuse here
        pytest.skip("this S3 server lets anonymous requests read a private bucket")
