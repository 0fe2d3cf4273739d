"""Frame coercion, and the Arrow schema a frame t0lake hands out keeps on its way back."""

import polars as pl
import pyarrow as pa

from t0lake._util.frames import column_to_arrow, remember_schema, to_arrow


def test_a_remembered_schema_comes_back_while_the_frame_is_unchanged() -> None:
    tagged = pa.field("raw", pa.string(), metadata={"t0lake.type": "numeric"})
    schema = pa.schema([pa.field("id", pa.int64()), tagged])
    frame = pl.DataFrame({"id": [1, 2], "raw": ["1.50", "2"]})
    assert to_arrow(frame).schema.field("raw").metadata is None  # Polars keeps no metadata
    remember_schema(frame, schema)
    assert to_arrow(frame).schema.field("raw") == tagged
    assert to_arrow(frame).schema.field("raw").metadata == {b"t0lake.type": b"numeric"}
    assert to_arrow(frame.select("raw")).schema.field("raw").metadata is None  # a new frame
    grown = frame.with_columns(pl.lit(1).alias("extra"))
    assert to_arrow(grown).schema.field("raw").metadata is None


def test_columns_for_hashing_keep_polars_views_of_text_and_bytes_only() -> None:
    frame = pl.DataFrame({"s": ["a", None], "b": [b"x", b"yz"], "i": [1, 2], "l": [["a"], None]})
    got = {name: column_to_arrow(frame.get_column(name)).type for name in frame.columns}
    assert got == {
        "s": pa.string_view(),
        "b": pa.binary_view(),
        "i": pa.int64(),
        "l": frame.get_column("l").to_arrow().type,  # lists as the default conversion
    }
