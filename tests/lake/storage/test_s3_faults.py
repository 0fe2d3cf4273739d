"""S3 failures at the commit, injected by a real proxy in front of moto: the whole client
stack (s3fs, aiobotocore, aiohttp, botocore's retries) meets each fault as in production,
and every outcome is settled by reading back, or reported as what it is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

import t0lake
from t0lake.lake import log
from t0lake.lake.storage import LakeStorage, open_storage
from t0lake.testing.s3proxy import CLOSE, DROP_RESPONSE, FAIL, FORWARDED, REFUSE, S3FaultProxy
from t0lake.testing.s3proxy import s3_fault_proxy as fault_proxy
from tests.lake.synth import EP, day_table, export_days

MANIFEST_1 = rf"/{EP}/_manifests/00000001\.json$"
TABLES = {date(2026, 1, 1): day_table(date(2026, 1, 1), 4)}


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    with fault_proxy(s3_endpoint) as running:
        yield running


def _storage(proxy: S3FaultProxy, bucket: str) -> LakeStorage:
    """The lake through the proxy, with botocore's own retries kept to two attempts (the
    default backoff would make a failing PUT take many seconds)."""
    options: dict[str, Any] = {
        "endpoint_url": proxy.url,
        "key": "testing",
        "secret": "testing",
        "config_kwargs": {"retries": {"total_max_attempts": 2, "mode": "standard"}},
    }
    return open_storage(f"s3://{bucket}/lake", options)


def _chain(exc: BaseException | None) -> list[type[BaseException]]:
    kinds = []
    while exc is not None:
        kinds.append(type(exc))
        exc = exc.__cause__ or exc.__context__
    return kinds


def _per_try(storage: LakeStorage, action: str) -> int:
    """How many requests one put_if_absent sends when each meets ``action``: botocore's two
    attempts, each re-sent once by aiohttp after a closed connection, and s3fs's own
    retries of a lost connection (it does not retry a 500)."""
    return 2 * 2 * int(storage.fs.retries) if action == CLOSE else 2


def _manifest_puts(proxy: S3FaultProxy) -> list[str]:
    return [
        outcome for method, path, outcome in proxy.log if method == "PUT" and "_manifests" in path
    ]


def test_a_commit_that_landed_but_lost_its_response_is_ours(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    """The PUT reaches moto, its response is dropped, the client re-sends it and meets 412:
    that object is our manifest, so the commit returns it (it used to be "nothing to
    commit": the rebuilt manifest on top of our own head had nothing left)."""
    storage = _storage(proxy, s3_bucket)
    proxy.add_rule(DROP_RESPONSE, method="PUT", path=MANIFEST_1)
    committed = export_days(storage, TABLES)
    assert committed is not None and committed.snapshot_id == 1
    assert log.snapshot_ids(storage, EP) == [1]
    assert log.load(storage, EP, 1).sha256 == committed.sha256
    assert _manifest_puts(proxy) == [DROP_RESPONSE, FORWARDED]  # the second one met 412


def test_a_landed_commit_on_top_of_a_head_is_ours_despite_the_cached_listing(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    """The same on a lake that already has a snapshot: reading the head cached the listing
    of ``_manifests/`` (without number 2) in s3fs, and the read-back that settles the 412
    must not be answered "not found" from that cache (it was, before the write invalidated
    it: the export said "nothing to commit" over its own landed snapshot)."""
    storage = _storage(proxy, s3_bucket)
    export_days(storage, TABLES)
    proxy.add_rule(DROP_RESPONSE, method="PUT", path=rf"/{EP}/_manifests/00000002\.json$")
    later = {date(2026, 1, 2): day_table(date(2026, 1, 2), 4)}
    committed = export_days(storage, later)
    assert committed is not None and committed.snapshot_id == 2
    assert log.load(storage, EP, 2).sha256 == committed.sha256


def test_a_commit_whose_every_answer_is_lost_is_settled_by_reading_back(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    """Every response to the manifest PUT is dropped (the first attempt lands): botocore
    ends with ConnectionClosedError, not an OSError; reading back finds our manifest."""
    storage = _storage(proxy, s3_bucket)
    proxy.add_rule(DROP_RESPONSE, method="PUT", path=MANIFEST_1, times=None)
    committed = export_days(storage, TABLES)
    assert committed is not None and log.load(storage, EP, 1).sha256 == committed.sha256
    assert len(_manifest_puts(proxy)) >= 2 and set(_manifest_puts(proxy)) == {DROP_RESPONSE}


def test_an_endpoint_unreachable_at_the_manifest_put_is_an_unknown_outcome(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    """The data files are written, then S3 becomes unreachable at the manifest PUT: the
    write and the reading back both fail with EndpointConnectionError, so the outcome is
    unknown and the error says to re-read the lake (it used to escape as botocore's own
    exception, an InternalError)."""
    storage = _storage(proxy, s3_bucket)
    proxy.add_rule(REFUSE, method="PUT", path=MANIFEST_1)
    with pytest.raises(t0lake.CommitStateUnknownError, match="re-read the lake") as info:
        export_days(storage, TABLES)
    assert info.value.context == {"entrypoint": EP, "snapshot_id": 1}
    assert EndpointConnectionError in _chain(info.value)
    proxy.restore()
    assert log.snapshot_ids(storage, EP) == []  # the refused request never reached S3


def test_a_put_that_never_gets_an_answer_is_written_again_after_reading_back(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    storage = _storage(proxy, s3_bucket)
    lost = _per_try(storage, CLOSE)  # every request of the first put_if_absent is lost
    proxy.add_rule(CLOSE, method="PUT", path=MANIFEST_1, times=lost)
    committed = export_days(storage, TABLES)
    assert committed is not None and log.snapshot_ids(storage, EP) == [1]
    assert _manifest_puts(proxy) == [CLOSE] * lost + [FORWARDED]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (CLOSE, "injected"),
        (FAIL, "We encountered an internal error. Please try again."),
        (FAIL, "request 8412 failed"),  # "412" in the text is not a 412
    ],
)
def test_a_storage_that_keeps_failing_is_not_a_lost_race(
    proxy: S3FaultProxy, s3_bucket: str, action: str, message: str
) -> None:
    """A PUT answered 500 (or never answered) every time: no race was lost, so the error
    says the storage kept failing, how often, and that nothing is known to be committed
    (it used to be "gave up after 20 lost races", or botocore's own exception)."""
    storage = _storage(proxy, s3_bucket)
    proxy.add_rule(action, method="PUT", path=MANIFEST_1, times=None, message=message)
    with pytest.raises(t0lake.CommitStateUnknownError, match="kept failing") as info:
        export_days(storage, TABLES)
    assert "lost race" not in str(info.value)
    assert info.value.context == {"entrypoint": EP, "snapshot_id": 1, "attempts": 3}
    assert log.snapshot_ids(storage, EP) == []
    assert _manifest_puts(proxy) == [action] * (3 * _per_try(storage, action))


def test_a_412_is_told_by_its_status_not_by_its_text(proxy: S3FaultProxy, s3_bucket: str) -> None:
    storage = _storage(proxy, s3_bucket)
    proxy.add_rule(FAIL, method="PUT", path=r"/a$", times=None, message="request 412 timed out")
    with pytest.raises(t0lake.CommitStateUnknownError):
        storage.put_if_absent("a", b"x")
    # a 412 whose error document lacks the Condition element s3fs looks for: still a race
    proxy.add_rule(FAIL, method="PUT", path=r"/b$", status=412, message="no condition here")
    with pytest.raises(t0lake.CommitConflictError):
        storage.put_if_absent("b", b"x")
    storage.put_if_absent("c", b"x")  # moto's own 412, through the proxy
    with pytest.raises(t0lake.CommitConflictError):
        storage.put_if_absent("c", b"y")
    assert storage.read_bytes("c") == b"x"


def test_an_unreachable_endpoint_is_a_storage_error_naming_the_path(
    proxy: S3FaultProxy, s3_bucket: str
) -> None:
    storage = _storage(proxy, s3_bucket)
    storage.write_bytes("ep.v/x.bin", b"x")
    proxy.offline()
    for call in (
        lambda: storage.write_bytes("ep.v/y.bin", b"y"),
        lambda: storage.read_bytes("ep.v/x.bin"),
        lambda: storage.list_names("ep.v"),
    ):
        with pytest.raises(t0lake.StorageError, match="on S3 failed") as info:
            call()
        assert info.value.context["lake"] == f"s3://{s3_bucket}/lake"
        assert info.value.context["path"].startswith("ep.v")
        assert EndpointConnectionError in _chain(info.value)
