"""A plain-Python reference of the fusion store v2 (seed 004), written from the seed text and
the interpretations in docs/feature_spec.md ("Fusion store v2 (seed 004)").

It computes, for given listings and image rows, the rows of
``ml.v_damage_fusion_features_v2_scored``: one dict per non-spam listing, keyed by
``(generation, listing_id)``, with every column. The property test compares the SQL view to it
row for row, so it is deliberately written as straight-line Python over lists, not as a
translation of the SQL (no CTEs, no FILTER clauses, no three-valued logic tricks).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

META_FLAGS = (
    "no_wear_global",
    "protector_only",
    "glass",
    "back_glass",
    "lens_glass",
    "panel_severe",
    "light_panel",
    "charging",
    "non_oem",
    "battery_clamp",
)

# A plain decimal: optional sign, 1-15 digits, optional point and up to 15 decimals (or a
# leading point), spaces around. Only ASCII digits: nothing else is a number.
_PLAIN_DECIMAL = re.compile(r" *[-+]?([0-9]{1,15}(\.[0-9]{0,15})?|\.[0-9]{1,15}) *")


@dataclass(frozen=True)
class Listing:
    generation: int
    listing_id: int
    edited_date: date
    spam: bool | None
    damage_ai_json: str | None  # JSON text; None is SQL NULL


@dataclass(frozen=True)
class Image:
    generation: int
    listing_id: int
    extracted_at: datetime
    feature_version: int | None = None
    damage_done: bool | None = None
    is_stock_photo: bool | None = None
    photo_quality_level: int | None = None
    background_clean_level: int | None = None
    visible_damage_level: int | None = None
    damage_on_protector_only: bool | None = None
    battery_screenshot: bool | None = None
    battery_health_pct_img: int | None = None


# ----------------------------------------------------------------------------- JSON parsing


def _get(value: Any, key: str) -> Any:
    """``value -> key``: the member of an object, else None (missing, null, not an object)."""
    return value.get(key) if isinstance(value, dict) else None


def _scalar_text(value: Any) -> str | None:
    """What ``->>`` yields for a JSON value: strings as they are, numbers as plain decimal
    text, booleans as true/false, objects and arrays as JSON text, null as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return value
    return json.dumps(value)


def parse_number(text: str | None) -> Decimal | None:
    """A plain decimal number, or None for anything else (never an error)."""
    if text is None or not _PLAIN_DECIMAL.fullmatch(text):
        return None
    return Decimal(text.strip(" "))


def parse_flag(value: Any) -> bool | None:
    """A meta flag: JSON true/false, anything else unknown."""
    return value if isinstance(value, bool) else None


def load_json(text: str | None) -> Any:
    """JSON text as Python values, numbers exact (as jsonb keeps them)."""
    if text is None:
        return None
    return json.loads(text, parse_float=Decimal)


# ----------------------------------------------------------------------------- the fusion


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _image_profile(images: list[Image]) -> dict[str, Any]:
    """img_prof: coverage, stock vs real, quality histograms, evidence counts and maxima."""
    # Done: the damage pipeline completed (a feature version and damage_done).
    done = [i for i in images if i.feature_version is not None and i.damage_done is True]
    stock = [i for i in done if i.is_stock_photo is True]
    real = [i for i in done if i.is_stock_photo is not True]

    def effective(i: Image) -> int | None:
        level = i.visible_damage_level
        if level is None:
            return None
        return min(level, 1) if i.damage_on_protector_only is True else level

    q2 = [i for i in real if i.photo_quality_level is not None and i.photo_quality_level >= 2]
    q1 = [i for i in real if i.photo_quality_level is not None and i.photo_quality_level >= 1]
    q2_vis = [i for i in q2 if i.visible_damage_level is not None]
    q1_vis = [i for i in q1 if i.visible_damage_level is not None]
    q2_eff = [effective(i) for i in q2_vis]
    q1_eff = [effective(i) for i in q1_vis]
    pq = [i.photo_quality_level for i in real if i.photo_quality_level is not None]
    bg = [i.background_clean_level for i in real if i.background_clean_level is not None]
    noprotector = [i.visible_damage_level for i in q2_vis if i.damage_on_protector_only is not True]
    profile: dict[str, Any] = {
        "img_rows_v1": len(images),
        "img_rows_damage_done": len(done),
        "img_stock_cnt": len(stock),
        "img_real_cnt": len(real),
        "img_stock_ratio": _ratio(len(stock), len(done)),
    }
    for level in range(5):
        profile[f"img_pq{level}_cnt"] = pq.count(level)
    profile["img_pq_avg_real"] = _mean(pq)
    for level in range(3):
        profile[f"img_bg{level}_cnt"] = bg.count(level)
    profile |= {
        "img_bg_avg_real": _mean(bg),
        "img_real_q2_cnt": len(q2),
        "img_real_q2_vis_cnt": len(q2_vis),
        "img_real_q1_vis_cnt": len(q1_vis),
        "img_max_eff_q2": max(q2_eff, default=None),
        "img_max_eff_q1": max(q1_eff, default=None),
        "img_max_noprotector_q2": max(noprotector, default=None),
        "img_n_ge3_real_q2": sum(1 for e in q2_eff if e is not None and e >= 3),
        "img_n_ge8_real_q2": sum(1 for e in q2_eff if e is not None and e >= 8),
    }
    return profile


def _battery_profile(images: list[Image]) -> dict[str, Any]:
    """batt_prof: screenshot readings; the minimum is the conservative estimate."""
    readings = [
        i.battery_health_pct_img
        for i in images
        if i.battery_screenshot is True and i.battery_health_pct_img is not None
    ]
    low = min(readings, default=None)
    high = max(readings, default=None)
    return {
        "batt_img_min": low,
        "batt_img_max": high,
        "batt_img_hits": len(readings),
        "batt_img_spread": None if not readings else high - low,  # type: ignore[operator]
    }


def _text_fields(doc: Any) -> dict[str, Any]:
    """base: the numbers and meta flags of damage_ai_json, each unknown when malformed."""
    decision = _get(doc, "decision")
    meta = _get(decision, "meta")
    battery = parse_number(_scalar_text(_get(doc, "battery_effective")))
    severity = parse_number(_scalar_text(_get(decision, "severity")))
    binary = parse_number(_scalar_text(_get(decision, "binary")))
    fields: dict[str, Any] = {
        "batt_eff_text": battery if battery is not None and 0 <= battery <= 100 else None,
        "text_sev_decision": int(severity) if severity in (0, 1, 2, 3) else None,
        "text_bin_decision": int(binary) if binary in (0, 1) else None,
    }
    for flag in META_FLAGS:
        fields[f"txt_{flag}"] = parse_flag(_get(meta, flag))
    fields["text_damage_scored"] = fields["text_sev_decision"] is not None
    return fields


def _battery_bucket(value: Decimal | None) -> str | None:
    if value is None:
        return None
    for upper, name in ((80, "lt80"), (85, "80_84"), (90, "85_89"), (95, "90_94")):
        if value < upper:
            return name
    return "95_100"


def _reason_code(row: dict[str, Any]) -> int:
    """Why the image score is missing (1-6) or degraded (7); 0 when scored from Q2."""
    if row["img_real_q2_vis_cnt"] >= 2:
        return 0
    if row["img_real_q1_vis_cnt"] >= 2:
        return 7
    if row["img_rows_v1"] == 0:
        return 1
    if row["img_rows_damage_done"] == 0:
        return 2
    if row["img_real_cnt"] == 0:
        return 3
    if row["img_real_q2_cnt"] == 0:
        return 4
    if row["img_real_q2_vis_cnt"] == 0:
        return 5
    return 6


def fusion_row(listing: Listing, images: list[Image]) -> dict[str, Any]:
    """The scored fusion row of one listing from its images (any extraction time)."""
    t0 = datetime.combine(listing.edited_date, time())
    known = [i for i in images if i.extracted_at < t0]  # T0: strictly before t0
    row: dict[str, Any] = {"generation": listing.generation, "listing_id": listing.listing_id}
    row |= _image_profile(known)
    row |= _battery_profile(known)
    row |= _text_fields(load_json(listing.damage_ai_json))

    # Battery fusion: the minimum screenshot first, else the text.
    img_batt, text_batt = row["batt_img_min"], row["batt_eff_text"]
    fused = Decimal(img_batt) if img_batt is not None else text_batt
    row["batt_fused"] = fused
    row["batt_source"] = {
        (True, True): "both",
        (True, False): "img_only",
        (False, True): "text_only",
        (False, False): "none",
    }[(img_batt is not None, text_batt is not None)]
    row["batt_bucket"] = _battery_bucket(fused)
    row["batt_lt80"] = None if fused is None else fused < 80
    row["batt_ge90"] = None if fused is None else fused >= 90

    # Image damage: Q2 when at least two Q2 values, else Q1 when at least two, else none.
    if row["img_real_q2_vis_cnt"] >= 2:
        level, score = 2, row["img_max_eff_q2"]
    elif row["img_real_q1_vis_cnt"] >= 2:
        level, score = 1, row["img_max_eff_q1"]
    else:
        level, score = 0, None
    row["img_damage_source_level"] = level
    row["img_damage_score"] = score
    row["img_score_reason_code"] = _reason_code(row)
    row["img_structural_strong"] = row["img_n_ge8_real_q2"] >= 2

    # Text severity floors: only ever raise.
    corrected = row["text_sev_decision"] or 0
    if (
        (fused is not None and fused < 80)
        or row["txt_battery_clamp"]
        or row["txt_non_oem"]
        or row["txt_charging"]
    ):
        corrected = max(corrected, 2)
    if (
        row["txt_glass"]
        or row["txt_back_glass"]
        or row["txt_lens_glass"]
        or row["txt_panel_severe"]
    ):
        corrected = max(corrected, 3)
    row["text_sev_corr"] = corrected

    if row["img_structural_strong"] or corrected >= 3:
        tier = 3
    elif score is not None and score >= 3:
        tier = 2
    elif score == 2 or corrected >= 2:
        tier = 1
    else:
        tier = 0
    row["damage_fused_tier"] = tier

    # The scored wrapper: unknown stays NULL.
    img_scored = level >= 1
    text_scored = row["text_damage_scored"]
    batt_scored = fused is not None
    any_scored = img_scored or text_scored or batt_scored
    row |= {
        "img_damage_scored": img_scored,
        "batt_scored": batt_scored,
        "damage_any_scored": any_scored,
        "text_sev_raw_known": row["text_sev_decision"] if text_scored else None,
        "text_sev_corr_known": corrected if text_scored or batt_scored else None,
        "damage_fused_tier_known": tier if any_scored else None,
    }
    return row


def fusion_rows(listings: list[Listing], images: list[Image]) -> list[dict[str, Any]]:
    """All rows of the scored view, sorted by (generation, listing_id); spam excluded."""
    by_listing: dict[tuple[int, int], list[Image]] = {}
    for image in images:
        by_listing.setdefault((image.generation, image.listing_id), []).append(image)
    rows = [
        fusion_row(listing, by_listing.get((listing.generation, listing.listing_id), []))
        for listing in listings
        if listing.spam is not True
    ]
    return sorted(rows, key=lambda r: (r["generation"], r["listing_id"]))
