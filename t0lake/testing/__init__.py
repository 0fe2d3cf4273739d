"""Real servers for tests, benchmarks and the demo: a throwaway PostgreSQL, a moto S3
server, free ports.

Shipped with the package (not only in ``tests/``) because ``t0lake demo`` and the example
notebook start a throwaway PostgreSQL too.
"""

from t0lake.testing.ports import free_port
from t0lake.testing.postgres import TempPostgres, find_pg_bindir
from t0lake.testing.s3 import moto_server

__all__ = ["TempPostgres", "find_pg_bindir", "free_port", "moto_server"]
