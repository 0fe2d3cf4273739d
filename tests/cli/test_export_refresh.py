"""A re-export that finds nothing to commit says why when the entrypoint reads a
materialized view: its changed inputs show only after a REFRESH (issue 16, item 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import t0lake
from t0lake import pg
from t0lake.cli.app import main

EP = "ml.trainer_derived_feature_store_t0_v1_v"
MV = "ml.trainer_derived_features_v1_mv"


def test_nothing_to_commit_names_the_materialized_view_and_its_refresh(
    examples_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0lake.certify(examples_dsn, EP, check_days=3)
    lake = str(tmp_path / "lake")
    args = ["export", EP, "--lake", lake, "--dsn", examples_dsn]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "committed snapshot 1" in first and "REFRESH" not in first
    # an input changes; the materialized view still holds the old rows
    with pg.connect(examples_dsn) as conn:
        conn.execute(
            "INSERT INTO ml.listing_posts (generation, listing_id, posted_at)"
            " VALUES (11, 1, '2026-01-19 10:00')"
        )
        conn.commit()
    assert main(args) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "nothing to commit" in text
    assert f"materialized view(s) {MV}" in text
    assert f"REFRESH MATERIALIZED VIEW {MV}" in text
    assert main([*args, "--json"]) == 0
    assert MV in json.loads(capsys.readouterr().out)["materialized_views"]
