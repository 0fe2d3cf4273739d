"""The life-cycle commands (compact, expire, vacuum, pin, unpin, policy) on small lakes
committed by the tests themselves: no PostgreSQL.

Successful runs go through click's CliRunner against the app; refusals go through ``main``,
the CLI's real entry point, because only its error funnel turns a ``T0LakeError`` into a
message and exit 2. Every refusal also checks that the lake's files are untouched.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

import t0lake
from t0lake.cli import main
from t0lake.cli.app import cli
from t0lake.cli.lake import tiers_text
from t0lake.lake.commit import commit
from t0lake.lake.operations import ReplaceDays
from t0lake.lake.storage import open_storage
from t0lake.lake.tiers import DEFAULT_POLICY, POLICY_FILE
from t0lake.lake.writer import write_day
from tests.lakecases import tree_digest

EP = "mx.features_v"
OTHER = "mx.other_v"
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("d", pa.date32()),
        pa.field("x", pa.float64()),
    ]
)
FIRST = date(2025, 10, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(100)]  # 2025-10-01 .. 2026-01-08
AS_OF = "2026-02-15"  # Oct, Nov, Dec 2025 go warm; January 2026 (8 days) stays hot
HOT_AFTER = 8


def day_table(day: date, version: int = 0) -> pa.Table:
    n = day.toordinal()
    return pa.table(
        {"id": [1, 2, 3], "d": [day] * 3, "x": [n * 0.5 + version, None, float(n % 7)]},
        schema=SCHEMA,
    )


def commit_days(root: str, days: list[date], entrypoint: str = EP, version: int = 0) -> int:
    """Commit ``days`` as an export would (one hot file per day); the new snapshot id."""
    storage = open_storage(root)
    entries = tuple(write_day(storage, entrypoint, d, day_table(d, version), ["id"]) for d in days)
    operation = ReplaceDays(entrypoint, SCHEMA, ("id",), "d", "d", "v", {"cert_id": 1}, entries)
    head = commit(storage, entrypoint, operation)
    assert head is not None
    return head.snapshot_id


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local lake holding snapshot 1 of EP: 100 days, 3 rows each, all hot."""
    monkeypatch.delenv("T0LAKE_LAKE", raising=False)
    root = str(tmp_path / "lake")
    assert commit_days(root, DAYS) == 1
    return root


def invoke(*args: str) -> Result:
    """Run the app in-process; it must succeed."""
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def run_json(*args: str) -> dict[str, Any]:
    result = invoke(*args, "--json")
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """Run ``main`` with --json; it must exit 2. The error object it printed."""
    assert main([*args, "--json"]) == 2
    error: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return error


def snapshots(lake: str, entrypoint: str = EP) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = run_json("snapshots", entrypoint, "--lake", lake)["snapshots"]
    return listed


def compact_and_expire(lake: str) -> None:
    """Compact (snapshot 2), then expire everything but the head (snapshot 3 records it):
    the 92 hot files of October..December are referenced by no retained snapshot."""
    assert run_json("compact", EP, "--lake", lake, "--as-of", AS_OF)["results"][0]["committed"]
    expired = run_json("expire", EP, "--lake", lake, "--keep-last", "1")["results"][0]
    assert expired["expired"] == [1] and expired["kept"] == [2, 3]


# --------------------------------------------------------------------------- compact


def test_compact_moves_days_to_warm_and_reads_back_the_same(lake: str) -> None:
    before = t0lake.open(lake).snapshot(EP).read()
    result = run_json("compact", EP, "--lake", lake, "--as-of", AS_OF)
    assert result["as_of"] == AS_OF and result["overrides"] == {}
    (done,) = result["results"]
    assert done["committed"] and done["snapshot_id"] == 2
    assert [o["tier"] for o in done["outputs"]] == ["warm"] * 3
    assert [o["output"].split("/")[2] for o in done["outputs"]] == [
        "month=2025-10",
        "month=2025-11",
        "month=2025-12",
    ]
    assert [o["days"] for o in done["outputs"]] == [31, 30, 31]
    assert [len(o["inputs"]) for o in done["outputs"]] == [31, 30, 31]
    assert [o["rows"] for o in done["outputs"]] == [93, 90, 93]

    history = snapshots(lake)
    assert [(s["operation"], s["tiers"]) for s in history] == [
        ("export", {"hot": 100}),
        ("compact", {"hot": HOT_AFTER, "warm": 3}),
    ]
    snap = t0lake.open(lake).snapshot(EP)
    tiers = snap.tiers()
    assert {t.value for d, t in tiers.items() if d < date(2026, 1, 1)} == {"warm"}
    assert {t.value for d, t in tiers.items() if d >= date(2026, 1, 1)} == {"hot"}
    assert snap.read().equals(before)
    assert run_json("verify", EP, "--lake", lake)["verified"][0]["files"] == HOT_AFTER + 3


def test_a_second_compact_commits_nothing(lake: str) -> None:
    run_json("compact", EP, "--lake", lake, "--as-of", AS_OF)
    digest = tree_digest(lake)
    again = run_json("compact", EP, "--lake", lake, "--as-of", AS_OF)["results"][0]
    assert (again["entrypoint"], again["snapshot_id"], again["as_of"]) == (EP, 2, AS_OF)
    assert again["committed"] is False and again["outputs"] == []
    assert tree_digest(lake) == digest
    text = invoke("compact", EP, "--lake", lake, "--as-of", AS_OF).stdout
    assert "nothing to compact" in text and "snapshot 2" in text


def test_compact_prints_what_it_wrote_and_draws_no_bar_with_json(
    lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import t0lake.lake.maintenance as maintenance

    seen: list[bool | None] = []
    real = maintenance.compact

    def spy(*args: Any, progress: bool | None = None, **kwargs: Any) -> Any:
        seen.append(progress)
        return real(*args, progress=progress, **kwargs)

    monkeypatch.setattr(maintenance, "compact", spy)
    text = invoke("compact", EP, "--lake", lake, "--as-of", AS_OF).stdout
    assert "committed snapshot 2 as of 2026-02-15: 3 file(s) written from 92 input" in text
    assert "month=2025-11" in text and "warm" in text
    run_json("compact", "--lake", lake, "--as-of", "2026-03-15")
    assert seen == [None, False]  # a bar on a terminal only; never with --json


def test_policy_overrides_apply_to_this_run_only(lake: str) -> None:
    t0lake.set_policy(lake, EP, t0lake.TierPolicy(hot_days=200))
    # only --warm-months is overridden: the stored hot_days=200 keeps every day hot
    kept = run_json("compact", EP, "--lake", lake, "--as-of", AS_OF, "--warm-months", "0")
    assert kept["overrides"] == {"warm_months": 0}
    assert not kept["results"][0]["committed"]
    moved = run_json("compact", EP, "--lake", lake, "--as-of", AS_OF, "--hot-days", "30")
    assert [o["tier"] for o in moved["results"][0]["outputs"]] == ["warm"] * 3
    assert t0lake.get_policy(lake, EP) == t0lake.TierPolicy(hot_days=200)  # unchanged
    manifest = t0lake.open(lake).snapshot(EP).manifest
    assert manifest.summary["policy"]["hot_days"] == 30  # what this run applied


def test_compact_of_every_entrypoint_uses_each_ones_policy(lake: str) -> None:
    commit_days(lake, DAYS[:40], OTHER)  # 2025-10-01 .. 2025-11-09
    t0lake.set_policy(lake, OTHER, t0lake.TierPolicy(warm_months=0))
    done = run_json("compact", "--lake", lake, "--as-of", AS_OF, "--hot-days", "30")
    by_name = {r["entrypoint"]: r for r in done["results"]}
    assert set(by_name) == {EP, OTHER}
    assert [o["tier"] for o in by_name[EP]["outputs"]] == ["warm"] * 3
    # OTHER's stored warm_months=0 stands beside the override: 2025 goes cold at once
    assert [(o["tier"], o["output"].split("/")[2]) for o in by_name[OTHER]["outputs"]] == [
        ("cold", "year=2025")
    ]
    assert snapshots(lake, OTHER)[-1]["tiers"] == {"cold": 1}


def test_compact_reports_the_policys_downsampling_step(tmp_path: Path) -> None:
    from datetime import datetime

    from t0lake.lake.maintenance.downsample import Downsample

    root, ticks = str(tmp_path / "lake"), "mx.ticks_v"
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("ts", pa.timestamp("us"), nullable=False),
            pa.field("x", pa.float64()),
        ]
    )
    storage = open_storage(root)
    entries = []
    for day in DAYS:
        t = datetime(day.year, day.month, day.day)
        rows = {"id": [1, 1, 2], "ts": [t, t + timedelta(hours=1), t], "x": [1.0, 2.0, None]}
        table = pa.table(rows, schema=schema)
        entries.append(write_day(storage, ticks, day, table, ["id", "ts"]))
    operation = ReplaceDays(
        ticks, schema, ("id", "ts"), "ts::date", "ts", "v", {"cert_id": 1}, tuple(entries)
    )
    assert commit(storage, ticks, operation) is not None
    step = Downsample.of("1d", {"x": ["mean"]}, f"{ticks}__1d", tier="warm")
    t0lake.set_policy(root, ticks, t0lake.TierPolicy(downsample=step))

    text = invoke("compact", ticks, "--lake", root, "--as-of", AS_OF).stdout
    assert "committed snapshot 2" in text
    assert f"downsample: committed {ticks}__1d (snapshot 1, 92 day(s))" in text
    again = run_json("compact", ticks, "--lake", root, "--as-of", AS_OF)["results"][0]
    assert not again["committed"] and again["downsample"]["committed"] is False
    assert snapshots(root, f"{ticks}__1d")[0]["days"] == 92


@pytest.mark.parametrize("as_of", ["2026-13-01", "yesterday", "2026-02-15T00:00", "15/02/2026", ""])
def test_a_bad_as_of_exits_2_and_writes_nothing(
    lake: str, as_of: str, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = tree_digest(lake)
    error = refused(capsys, "compact", EP, "--lake", lake, "--as-of", as_of)
    assert error["error"] == "ConfigError" and error["parameter"] == "as_of"
    assert "as_of must be a date like 2026-11-20" in error["message"]
    assert tree_digest(lake) == digest


@pytest.mark.parametrize(
    "args",
    [
        [],  # no --as-of
        ["--as-of", AS_OF, "--hot-days", "-1"],
        ["--as-of", AS_OF, "--warm-months", "x"],
    ],
)
def test_compact_refuses_missing_or_bad_options(
    lake: str, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    digest = tree_digest(lake)
    error = refused(capsys, "compact", EP, "--lake", lake, *args)
    assert error["error"] in ("ConfigError", "UsageError")
    assert "--as-of" in error["message"] or "Invalid value" in error["message"]
    assert tree_digest(lake) == digest
    assert len(snapshots(lake)) == 1


def test_compact_of_an_unknown_entrypoint_or_an_empty_lake_exits_2(
    lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = refused(capsys, "compact", "mx.nope_v", "--lake", lake, "--as-of", AS_OF)
    assert error["error"] == "SnapshotNotFoundError" and error["entrypoint"] == "mx.nope_v"
    empty = tmp_path / "empty"
    for command in (["compact", "--as-of", AS_OF], ["expire", "--keep-last", "1"], ["vacuum"]):
        error = refused(capsys, *command, "--lake", str(empty))
        assert error["error"] == "ConfigError"
        assert "no entrypoint has a snapshot" in error["message"]
    assert not empty.exists()


# --------------------------------------------------------------------------- expire


def test_expire_keep_last_keeps_the_pinned_snapshot(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_json("compact", EP, "--lake", lake, "--as-of", AS_OF)  # snapshot 2
    assert run_json("pin", EP, "1", "--name", "paper", "--lake", lake)["head"] == 3
    result = run_json("expire", EP, "--lake", lake, "--keep-last", "1")
    (done,) = result["results"]
    assert done["expired"] == [2]  # 1 is pinned, 3 was the head
    assert done["head"] == 4 and done["kept"] == [1, 3, 4]
    assert done["pinned"] == {"paper": 1}
    assert done["deleted_manifests"] == [f"{EP}/_manifests/00000002.json"]
    assert not (Path(lake) / EP / "_manifests" / "00000002.json").exists()
    history = snapshots(lake)
    assert [(s["snapshot_id"], s["pins"]) for s in history] == [(1, ["paper"]), (3, []), (4, [])]
    assert history[-1]["operation"] == "expire"
    # the pinned snapshot still reads; the expired one is refused
    assert run_json("scan", EP, "--lake", lake, "--snapshot", "1")["rows"] == 300
    error = refused(capsys, "scan", EP, "--lake", lake, "--snapshot", "2")
    assert error["error"] == "SnapshotExpiredError" and error["snapshot_id"] == 2
    text = invoke("expire", EP, "--lake", lake, "--keep-last", "3").stdout
    assert "nothing to expire" in text and "paper → 1" in text


def test_expire_older_than(lake: str) -> None:
    for version in (1, 2):
        commit_days(lake, DAYS[-1:], version=version)  # snapshots 2, 3
    none = run_json("expire", EP, "--lake", lake, "--older-than", "3650d")["results"][0]
    assert none["expired"] == [] and none["kept"] == [1, 2, 3]
    # a bare number counts days: 0 days ago is now, so all but the head go
    done = run_json("expire", EP, "--lake", lake, "--older-than", "0")["results"][0]
    assert done["expired"] == [1, 2] and done["kept"] == [3, 4]


ONE_RULE = "exactly one of --keep-last N and --older-than DURATION"


@pytest.mark.parametrize(
    ("args", "kind", "says"),
    [
        ([], "ConfigError", ONE_RULE),
        (["--keep-last", "2", "--older-than", "1d"], "ConfigError", ONE_RULE),
        (["--keep-last", "0"], "UsageError", "--keep-last"),
        (["--older-than", "soon"], "ConfigError", "older_than must be a duration"),
    ],
)
def test_expire_needs_exactly_one_valid_rule_and_writes_nothing_otherwise(
    lake: str, args: list[str], kind: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    commit_days(lake, DAYS[-1:], version=1)
    digest = tree_digest(lake)
    error = refused(capsys, "expire", EP, "--lake", lake, *args)
    assert error["error"] == kind and says in error["message"]
    assert tree_digest(lake) == digest


# --------------------------------------------------------------------------- vacuum


def test_vacuum_dry_run_lists_what_would_go_and_deletes_nothing(lake: str) -> None:
    compact_and_expire(lake)
    digest = tree_digest(lake)
    result = run_json("vacuum", EP, "--lake", lake, "--dry-run", "--grace", "0")
    assert result["dry_run"] is True
    (done,) = result["results"]
    kinds = [d["kind"] for d in done["deleted"]]
    assert kinds.count("data file") == 92 and set(kinds) == {"data file"}
    assert all("/tier=hot/day=2025-" in d["path"] for d in done["deleted"])
    assert all(d["bytes"] == (Path(lake) / d["path"]).stat().st_size for d in done["deleted"])
    assert result["bytes"] == done["bytes"] == sum(d["bytes"] for d in done["deleted"]) > 0
    assert result["files"] == 92 and done["referenced"] == HOT_AFTER + 3
    assert tree_digest(lake) == digest
    text = invoke("vacuum", EP, "--lake", lake, "--dry-run", "--grace", "0").stdout
    assert f"would delete 92 file(s), {result['bytes']:,} bytes" in text
    assert "day=2025-10-01" in text and "deleted" not in text


def test_vacuum_with_no_grace_deletes_the_unreferenced_files_only(lake: str) -> None:
    before = t0lake.open(lake).snapshot(EP).read()
    compact_and_expire(lake)
    young = run_json("vacuum", EP, "--lake", lake)["results"][0]  # default grace 1h
    assert young["deleted"] == [] and len(young["young"]) == 92
    result = run_json("vacuum", "--lake", lake, "--grace", "0")
    (done,) = result["results"]
    assert done["dry_run"] is False and len(done["deleted"]) == 92 == result["files"]
    assert not any((Path(lake) / d["path"]).exists() for d in done["deleted"])
    left = sorted(p.parent.name for p in Path(lake).rglob("*.parquet"))
    assert len(left) == HOT_AFTER + 3
    assert left[-3:] == ["month=2025-10", "month=2025-11", "month=2025-12"]
    assert t0lake.open(lake).snapshot(EP).read().equals(before)
    assert run_json("verify", "--lake", lake)["verified"][0]["files"] == HOT_AFTER + 3
    again = run_json("vacuum", EP, "--lake", lake, "--grace", "0")
    assert again["files"] == 0 and again["bytes"] == 0


def test_vacuum_keeps_the_files_of_a_pinned_snapshot(lake: str) -> None:
    run_json("compact", EP, "--lake", lake, "--as-of", AS_OF)
    run_json("pin", EP, "1", "--name", "v1", "--lake", lake)
    run_json("expire", EP, "--lake", lake, "--keep-last", "1")
    done = run_json("vacuum", EP, "--lake", lake, "--grace", "0")["results"][0]
    assert [d["kind"] for d in done["deleted"]] == []  # expire deleted manifest 2 itself
    assert len(list(Path(lake).rglob("*.parquet"))) == 100 + 3


def test_vacuum_refuses_a_bad_grace(lake: str, capsys: pytest.CaptureFixture[str]) -> None:
    compact_and_expire(lake)
    digest = tree_digest(lake)
    for grace in ("-1h", "later"):
        error = refused(capsys, "vacuum", EP, "--lake", lake, "--grace", grace)
        assert error["error"] == "ConfigError" and error["parameter"] == "grace"
    assert tree_digest(lake) == digest


# --------------------------------------------------------------------------- pin / unpin


def test_pin_and_unpin_round_trip(lake: str, capsys: pytest.CaptureFixture[str]) -> None:
    commit_days(lake, DAYS[-1:], version=1)  # snapshot 2
    pinned = run_json("pin", EP, "1", "--name", "paper-2026", "--lake", lake)
    assert pinned == {
        "entrypoint": EP,
        "pin": "paper-2026",
        "snapshot_id": 1,
        "committed": True,
        "head": 3,
        "pins": {"paper-2026": 1},
    }
    again = run_json("pin", EP, "1", "--name", "paper-2026", "--lake", lake)
    assert again["committed"] is False and again["head"] == 3
    assert snapshots(lake)[-1]["operation"] == "pin"
    assert [s["pins"] for s in snapshots(lake)] == [["paper-2026"], [], []]

    digest = tree_digest(lake)
    taken = refused(capsys, "pin", EP, "2", "--name", "paper-2026", "--lake", lake)
    assert taken["error"] == "ConfigError" and "unpin it first" in taken["message"]
    missing = refused(capsys, "pin", EP, "99", "--name", "x", "--lake", lake)
    assert missing["error"] == "SnapshotNotFoundError" and missing["snapshot_id"] == 99
    bad_name = refused(capsys, "pin", EP, "1", "--name", "no spaces", "--lake", lake)
    assert bad_name["error"] == "ConfigError" and bad_name["name"] == "no spaces"
    zero = refused(capsys, "pin", EP, "0", "--name", "x", "--lake", lake)
    assert zero["error"] == "UsageError"
    no_name = refused(capsys, "pin", EP, "1", "--lake", lake)
    assert no_name["error"] == "UsageError" and "--name" in no_name["message"]
    assert tree_digest(lake) == digest

    text = invoke("pin", EP, "2", "--name", "other", "--lake", lake).stdout
    assert "pinned snapshot 2 as 'other' (head 4)" in text
    unpinned = run_json("unpin", EP, "--name", "paper-2026", "--lake", lake)
    assert unpinned["committed"] and unpinned["head"] == 5 and unpinned["pins"] == {"other": 2}
    assert snapshots(lake)[-1]["operation"] == "unpin"
    digest = tree_digest(lake)
    unknown = refused(capsys, "unpin", EP, "--name", "paper-2026", "--lake", lake)
    assert unknown["error"] == "ConfigError" and "no pin named 'paper-2026'" in unknown["message"]
    assert tree_digest(lake) == digest
    text = invoke("unpin", EP, "--name", "other", "--lake", lake).stdout
    assert "removed pin 'other' (head 6); pins none" in text


# --------------------------------------------------------------------------- policy


def test_policy_show_set_and_reset(lake: str, capsys: pytest.CaptureFixture[str]) -> None:
    stored = Path(lake) / EP / POLICY_FILE
    shown = run_json("policy", EP, "--lake", lake)
    assert shown["policy"] == DEFAULT_POLICY.to_json()
    assert shown["default"] and not shown["stored"] and not shown["changed"]
    assert not stored.exists()  # showing writes nothing

    changed = run_json("policy", EP, "--lake", lake, "--hot-days", "7", "--warm-months", "3")
    assert changed["stored"] and changed["changed"] and not changed["default"]
    assert (changed["policy"]["hot_days"], changed["policy"]["warm_months"]) == (7, 3)
    assert t0lake.get_policy(lake, EP) == t0lake.TierPolicy(hot_days=7, warm_months=3)
    one = run_json("policy", EP, "--lake", lake, "--warm-months", "4")["policy"]
    assert (one["hot_days"], one["warm_months"]) == (7, 4)  # the other field is kept
    text = invoke("policy", EP, "--lake", lake).stdout
    assert "tier policy (custom)" in text and "7 day(s)" in text and "4 month(s)" in text
    assert "zstd level 9" in text

    digest = tree_digest(lake)
    both = refused(capsys, "policy", EP, "--lake", lake, "--reset", "--hot-days", "1")
    assert both["error"] == "ConfigError" and both["parameter"] == "reset"
    negative = refused(capsys, "policy", EP, "--lake", lake, "--hot-days", "-1")
    assert negative["error"] == "UsageError" and "--hot-days" in negative["message"]
    assert tree_digest(lake) == digest

    reset = run_json("policy", EP, "--lake", lake, "--reset")
    assert reset["default"] and reset["stored"] and reset["changed"]
    assert t0lake.get_policy(lake, EP) == DEFAULT_POLICY
    assert json.loads(stored.read_text())["hot_days"] == 30


# --------------------------------------------------------------------------- the rest

MAINTENANCE = {
    "compact": ["--as-of", "--hot-days", "--warm-months", "--lake", "--storage-option"],
    "expire": ["--keep-last", "--older-than", "--lake", "--storage-option"],
    "vacuum": ["--dry-run", "--grace", "--lake", "--storage-option"],
    "pin": ["SNAPSHOT", "--name", "--lake", "--storage-option"],
    "unpin": ["--name", "--lake", "--storage-option"],
    "policy": ["--hot-days", "--warm-months", "--reset", "--lake", "--storage-option"],
}


@pytest.mark.parametrize("command", sorted(MAINTENANCE))
def test_help_explains_each_command_and_its_options(command: str) -> None:
    text = invoke(command, "--help").stdout
    assert f"Usage: cli {command}" in text and "ENTRYPOINT" in text
    for option in [*MAINTENANCE[command], "--json"]:
        assert option in text, f"{command} --help does not mention {option}"
    assert "Rules:" in text and "Example:" in text and f"t0lake {command} " in text


@pytest.mark.parametrize(
    "command",
    [
        ["compact", "--as-of", AS_OF],
        ["expire", "--keep-last", "1"],
        ["vacuum"],
        ["pin", EP, "1", "--name", "x"],
        ["unpin", EP, "--name", "x"],
        ["policy", EP, "--hot-days", "3"],
    ],
)
def test_every_command_needs_a_lake(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("T0LAKE_LAKE", raising=False)
    error = refused(capsys, *command)
    assert error["error"] == "ConfigError" and "no lake" in error["message"]


def test_snapshots_table_shows_tiers_and_pins(lake: str) -> None:
    run_json("compact", EP, "--lake", lake, "--as-of", AS_OF)
    run_json("pin", EP, "2", "--name", "release", "--lake", lake)
    text = invoke("snapshots", EP, "--lake", lake).stdout
    assert "tiers" in text and "pins" in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    assert "hot 100" in rows["1"] and "release" not in rows["1"]
    assert f"hot {HOT_AFTER} · warm 3" in rows["2"] and "release" in rows["2"]
    assert tiers_text({"hot": 3, "warm": 2}) == "hot 3 · warm 2"
    assert tiers_text({"warm": 0, "cold": 1}) == "cold 1" and tiers_text({}) == "-"
