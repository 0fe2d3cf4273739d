"""The test servers are real and local: Postgres 15 over TCP, S3 through s3fs over HTTP."""

import pyarrow as pa
import pyarrow.parquet as pq
import s3fs

from t0lake import pg


def test_postgres_is_a_real_15_server_on_loopback(pg_dsn: str) -> None:
    with pg.connect(pg_dsn) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        addr = conn.execute("SELECT inet_server_addr()::text").fetchone()
    assert version is not None and int(version[0]) // 10000 == 15
    assert addr is not None and addr[0].startswith("127.0.0.1")


def test_s3_round_trip_through_s3fs(s3_options: dict[str, object], s3_bucket: str) -> None:
    fs = s3fs.S3FileSystem(**s3_options)
    assert str(s3_options["endpoint_url"]).startswith("http://127.0.0.1:")
    table = pa.table({"id": [1, 2, 3], "x": [0.5, None, 2.5]})
    path = f"{s3_bucket}/day=2026-11-20/part.parquet"
    with fs.open(path, "wb") as f:
        pq.write_table(table, f)
    assert fs.ls(f"{s3_bucket}/day=2026-11-20") == [path]
    with fs.open(path, "rb") as f:
        assert pq.read_table(f).equals(table)
