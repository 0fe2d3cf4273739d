"""The S3 fault proxy: it forwards byte for byte, and each fault is the real thing for the
client stack (what botocore raises, whether the object reached moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import s3fs
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from t0lake.testing.s3proxy import (
    CLOSE,
    DROP_RESPONSE,
    FAIL,
    FORWARDED,
    REFUSE,
    S3FaultProxy,
    s3_fault_proxy,
)


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    with s3_fault_proxy(s3_endpoint) as running:
        yield running


def _client(endpoint: str, attempts: int = 1) -> Any:
    """An s3fs client that tries once (botocore and s3fs alike), so each fault shows."""
    fs = s3fs.S3FileSystem(
        endpoint_url=endpoint,
        key="testing",
        secret="testing",
        skip_instance_cache=True,
        config_kwargs={"retries": {"total_max_attempts": attempts, "mode": "standard"}},
    )
    fs.retries = 1
    return fs


def _answer(exc: BaseException) -> dict[str, Any]:
    """The response botocore parsed, from the ClientError s3fs wrapped in an OSError."""
    cause = exc.__cause__
    assert isinstance(cause, ClientError)
    response: dict[str, Any] = cause.response
    return response


def test_everything_is_forwarded_unchanged_until_a_rule_says_otherwise(
    proxy: S3FaultProxy, s3_endpoint: str, s3_bucket: str
) -> None:
    through, direct = _client(proxy.url), _client(s3_endpoint)
    payload = bytes(range(256)) * 4000  # ~1 MB, binary: nothing is re-encoded on the way
    through.pipe_file(f"{s3_bucket}/a/x.bin", payload)
    assert direct.cat_file(f"{s3_bucket}/a/x.bin") == payload  # it reached moto as sent
    assert through.cat_file(f"{s3_bucket}/a/x.bin") == payload
    assert through.ls(f"{s3_bucket}/a", detail=False) == [f"{s3_bucket}/a/x.bin"]
    with pytest.raises(FileExistsError):  # conditional writes keep their header
        through.pipe_file(f"{s3_bucket}/a/x.bin", b"other", mode="create")
    assert set(proxy.counts) == {FORWARDED} and proxy.counts[FORWARDED] == len(proxy.log) >= 4


def test_a_dropped_response_lands_upstream_and_the_put_is_sent_again(
    proxy: S3FaultProxy, s3_endpoint: str, s3_bucket: str
) -> None:
    """aiohttp itself re-sends a PUT (an idempotent method) once when the connection closes
    without an answer: a conditional PUT then meets the object its first attempt stored."""
    once = proxy.add_rule(DROP_RESPONSE, method="PUT", path=r"/m/1$")
    with pytest.raises(FileExistsError):
        _client(proxy.url).pipe_file(f"{s3_bucket}/m/1", b"landed", mode="create")
    assert _client(s3_endpoint).cat_file(f"{s3_bucket}/m/1") == b"landed"
    assert once.hits == 1
    assert [e for e in proxy.log if e[0] == "PUT"][-2:] == [
        ("PUT", f"/{s3_bucket}/m/1", DROP_RESPONSE),
        ("PUT", f"/{s3_bucket}/m/1", FORWARDED),
    ]
    always = proxy.add_rule(DROP_RESPONSE, method="PUT", path=r"/m/2$", times=None)
    with pytest.raises(ConnectionClosedError):
        _client(proxy.url).pipe_file(f"{s3_bucket}/m/2", b"landed too")
    assert _client(s3_endpoint).cat_file(f"{s3_bucket}/m/2") == b"landed too"
    assert always.hits == 2 and proxy.counts[DROP_RESPONSE] == 3


def test_a_failure_is_answered_without_forwarding(
    proxy: S3FaultProxy, s3_endpoint: str, s3_bucket: str
) -> None:
    proxy.add_rule(FAIL, method="PUT", times=None, message="request 4121 failed")
    client = _client(proxy.url, attempts=2)
    for _ in range(2):
        with pytest.raises(OSError, match="request 4121 failed") as info:
            client.pipe_file(f"{s3_bucket}/f/1", b"x")
        assert _answer(info.value)["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert proxy.counts[FAIL] == 4  # botocore retried each 500 once
    assert not _client(s3_endpoint).exists(f"{s3_bucket}/f/1")
    assert client.exists(f"{s3_bucket}/f") is False  # a HEAD is not a PUT: forwarded
    proxy.clear_rules()
    proxy.add_rule(FAIL, method="PUT", status=412)
    with pytest.raises(OSError) as info:
        client.pipe_file(f"{s3_bucket}/f/1", b"x", mode="create")
    assert _answer(info.value)["Error"]["Code"] == "PreconditionFailed"


def test_a_closed_connection_loses_the_request(
    proxy: S3FaultProxy, s3_endpoint: str, s3_bucket: str
) -> None:
    rule = proxy.add_rule(CLOSE, method="PUT", path=r"/c/", times=3)
    with pytest.raises(ConnectionClosedError):  # closed, re-sent by aiohttp, closed again
        _client(proxy.url).pipe_file(f"{s3_bucket}/c/1", b"x")
    assert not _client(s3_endpoint).exists(f"{s3_bucket}/c/1")
    _client(proxy.url).pipe_file(f"{s3_bucket}/c/1", b"x")  # closed once, then sent
    assert _client(s3_endpoint).cat_file(f"{s3_bucket}/c/1") == b"x"
    assert rule.hits == proxy.counts[CLOSE] == 3


def test_refuse_makes_the_endpoint_unreachable_until_restored(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    client = _client(proxy.url, attempts=2)
    client.pipe_file(f"{s3_bucket}/r/0", b"before")
    proxy.add_rule(REFUSE, method="PUT", path=r"/r/1")
    with pytest.raises(EndpointConnectionError):  # the retry finds nobody listening
        client.pipe_file(f"{s3_bucket}/r/1", b"x")
    assert not proxy.online
    with pytest.raises(EndpointConnectionError):
        client.cat_file(f"{s3_bucket}/r/0")
    proxy.restore()
    assert proxy.online and client.cat_file(f"{s3_bucket}/r/0") == b"before"
    assert not client.exists(f"{s3_bucket}/r/1")


def test_rules_match_by_method_path_and_count() -> None:
    proxy = S3FaultProxy("http://127.0.0.1:9")
    try:
        only_two = proxy.add_rule(FAIL, method="put", path=r"_manifests/\d+\.json$", times=2)
        every = proxy.add_rule(CLOSE, path=r"\.parquet", times=None)
        assert proxy._decide("GET", "/b/ep/_manifests/00000001.json") is None
        assert proxy._decide("PUT", "/b/ep/_manifests/00000001.json.tmp") is None
        assert proxy._decide("PUT", "/b/ep/_manifests/00000001.json") is only_two
        assert proxy._decide("PUT", "/b/ep/_manifests/00000002.json") is only_two
        assert proxy._decide("PUT", "/b/ep/_manifests/00000003.json") is None
        for _ in range(3):
            assert proxy._decide("GET", "/b/ep/tier=hot/x.parquet") is every
        assert (only_two.hits, every.hits) == (2, 3)
        with pytest.raises(ValueError, match="unknown action"):
            proxy.add_rule("explode")
    finally:
        proxy.close()
