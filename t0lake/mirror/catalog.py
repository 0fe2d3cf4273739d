"""The Iceberg catalog a lake is mirrored into, and the table of each entrypoint.

The catalog is pyiceberg's ``SqlCatalog`` on any SQLAlchemy URL: the PostgreSQL that
certifies the data (``postgresql+psycopg://user@host/db``), or sqlite for a local catalog.
The URL may hold a password, so it is shown only with the password masked.

An entrypoint ``schema.view`` is the Iceberg table ``view`` of namespace ``schema``; its
metadata lives in the lake under ``_iceberg/schema.view/`` (not an entrypoint name, so no
t0lake command ever lists or vacuums it), and its data files are the lake's own files,
registered where they are. The table is created with:

- ``gc.enabled=false``: t0lake's vacuum stays the only deleter of data files;
- ``commit.retry.num-retries=0``: pyiceberg would otherwise re-apply a commit that lost a
  race on top of whatever won it; the mirror checks the head itself instead;
- a name mapping (the files carry no Iceberg field ids), format version 2, no partition
  spec (the lake's day lives in the path only, and a month or year file spans many days).
"""

from __future__ import annotations

import contextlib

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.table import Table, TableProperties
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from t0lake.errors import ConfigError, StorageError
from t0lake.lake.storage import LakeStorage
from t0lake.mirror.schema import iceberg_schema, same_columns

__all__ = [
    "CATALOG_NAME",
    "METADATA_DIR",
    "TABLE_PROPERTIES",
    "file_io_properties",
    "open_catalog",
    "open_table",
    "redact",
    "table_location",
]

CATALOG_NAME = "t0lake"
METADATA_DIR = "_iceberg"
TABLE_PROPERTIES = {
    "gc.enabled": "false",
    TableProperties.COMMIT_NUM_RETRIES: "0",
    "t0lake.mirror": "true",
}

# s3fs storage options → pyiceberg FileIO properties (the lake's own credentials)
_S3_PROPERTIES = {
    "endpoint_url": "s3.endpoint",
    "key": "s3.access-key-id",
    "secret": "s3.secret-access-key",
    "token": "s3.session-token",
    "region": "s3.region",
}


def redact(url: str) -> str:
    """The catalog URL with its password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable catalog URL>"


def file_io_properties(storage: LakeStorage) -> dict[str, str]:
    """What pyiceberg's FileIO needs to read the lake's files and write the table's
    metadata beside them: the S3 endpoint and credentials of the lake's storage options."""
    if storage.is_local:
        return {}
    options = storage.storage_options
    props = {ice: str(options[s3fs]) for s3fs, ice in _S3_PROPERTIES.items() if s3fs in options}
    region = (options.get("client_kwargs") or {}).get("region_name")
    if region and "s3.region" not in props:
        props["s3.region"] = str(region)
    if str(options.get("anon", "")).lower() in ("true", "1"):
        props["s3.anonymous"] = "true"
    return props


def open_catalog(url: str, storage: LakeStorage) -> SqlCatalog:
    """The SqlCatalog on ``url`` (its tables created on first use), reading the lake with
    ``storage``'s credentials. ConfigError for a URL SQLAlchemy cannot use."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            "the Iceberg catalog URL is empty: pass --iceberg-catalog or set "
            "T0LAKE_ICEBERG_CATALOG (a SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db)",
            parameter="iceberg_catalog",
        )
    try:
        make_url(url)
        return SqlCatalog(CATALOG_NAME, uri=url, **file_io_properties(storage))
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(
            f"the Iceberg catalog URL {redact(url)} is not a SQLAlchemy URL it can use: "
            f"{type(exc).__name__} (e.g. postgresql+psycopg://user@host/db or sqlite:///cat.db)",
            parameter="iceberg_catalog",
            catalog=redact(url),
        ) from None
    except SQLAlchemyError as exc:
        raise StorageError(
            f"the Iceberg catalog {redact(url)} cannot be reached: "
            f"{type(exc).__name__}; check it and re-run 't0lake mirror'",
            catalog=redact(url),
        ) from None


def table_location(storage: LakeStorage, entrypoint: str) -> str:
    """Where the table's metadata lives: ``{lake}/_iceberg/{entrypoint}``."""
    return storage.uri(f"{METADATA_DIR}/{entrypoint}")


def open_table(
    catalog: SqlCatalog, storage: LakeStorage, entrypoint: str, schema: pa.Schema
) -> Table:
    """The entrypoint's table, created on first use. A table of that name that mirrors
    another lake (another location) or another schema is refused (ConfigError): the mirror
    never writes into a table it did not make for this lake."""
    namespace, name = entrypoint.split(".", 1)
    location = table_location(storage, entrypoint)
    try:
        table = catalog.load_table((namespace, name))
    except NoSuchTableError:
        with contextlib.suppress(NamespaceAlreadyExistsError):
            catalog.create_namespace(namespace)
        table = catalog.create_table(
            (namespace, name),
            schema=iceberg_schema(schema),
            location=location,
            properties=TABLE_PROPERTIES,
        )
    if table.location().rstrip("/") != location.rstrip("/"):
        raise ConfigError(
            f"the Iceberg table {entrypoint} of this catalog mirrors the lake at "
            f"{table.location()}, not {location}: use another catalog for this lake",
            entrypoint=entrypoint,
            location=table.location(),
        )
    if not same_columns(table.schema(), schema):
        raise ConfigError(
            f"the Iceberg table {entrypoint} has other columns than the lake's schema: it was "
            "not made by this lake's mirror (drop it, or use another catalog)",
            entrypoint=entrypoint,
        )
    # the files carry no Iceberg field ids: readers resolve their columns by this mapping
    mapping = table.schema().name_mapping.model_dump_json()
    wanted = {**TABLE_PROPERTIES, TableProperties.DEFAULT_NAME_MAPPING: mapping}
    stale = {k: v for k, v in wanted.items() if table.properties.get(k) != v}
    if stale:  # a new table, or someone re-enabled retries or gc: put t0lake's rules back
        with table.transaction() as tx:
            tx.set_properties(stale)
        table = catalog.load_table((namespace, name))
    return table
