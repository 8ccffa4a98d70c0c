"""Run the harvest hot path's few statements straight on the DB-API cursor.

Per page, building SQLAlchemy statements and processing result rows cost more
than the query itself. These statements are written once as SQL text with
`:name` parameters, translated to the driver's parameter style once, and their
rows come back as plain tuples. PostgreSQL sends them in binary, so record XML
arrives as bytes without hex decoding.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_NAMED = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")  # not the `::type` of a PostgreSQL cast


@cache
def _pyformat(sql: str) -> str:
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


@cache
def param_names(sql: str) -> frozenset[str]:
    return frozenset(_NAMED.findall(sql))


def stream(conn: Connection, sql: str, params: dict) -> Iterator[tuple]:
    """Rows of `sql` as they arrive. On PostgreSQL they come in chunks of a few rows (one row
    at a time where libpq is older than 17), so the caller renders while the server is still
    sending: the server's share of a ListRecords page overlaps the worker's instead of
    preceding it. Consume it whole before the connection runs anything else."""
    if conn.dialect.name == "sqlite":  # in-process: nothing to overlap
        yield from fetch_all(conn, sql, params)
        return
    raw = conn.connection.dbapi_connection
    try:
        with raw.cursor(binary=True) as cur:
            yield from cur.stream(_pyformat(sql), params, size=_chunk_rows())
    except conn.dialect.loaded_dbapi.Error as exc:
        raise driver_error(conn, sql, params, exc) from exc


@cache
def _chunk_rows() -> int:
    """Chunks of rows need libpq 17 or newer; an older one still sends rows one at a time."""
    from psycopg import capabilities
    return 8 if capabilities.has_stream_chunked() else 1


def fetch_all(conn: Connection, sql: str, params: dict) -> list[tuple]:
    """Rows of `sql` (named `:params`) on the connection's driver, without SQLAlchemy's layers."""
    raw = conn.connection.dbapi_connection
    try:
        if conn.dialect.name == "sqlite":
            cur = raw.cursor()
            try:
                return cur.execute(sql, params).fetchall()
            finally:
                cur.close()
        with raw.cursor(binary=True) as cur:
            cur.execute(_pyformat(sql), params)
            return cur.fetchall()
    except conn.dialect.loaded_dbapi.Error as exc:
        raise driver_error(conn, sql, params, exc) from exc


def driver_error(conn: Connection, sql: str, params: dict, exc: Exception) -> DBAPIError:
    """The driver's error as SQLAlchemy would have raised it (OperationalError for a lost
    connection, which the app answers with 503). A lost connection also takes the pool's
    others with it, as SQLAlchemy does: they were very likely dropped by the same restart."""
    lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
    if lost:
        conn.invalidate(exc)
        conn.engine.dispose(close=False)
    return DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error, connection_invalidated=lost,
                               dialect=conn.dialect)
