"""Engines for SQLite and PostgreSQL with the settings each needs for concurrent use."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, text


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    # No pool_pre_ping: its round trip before every request was a tenth of a harvest page.
    # A connection the server dropped (a restart) fails its request, which answers 503 with
    # Retry-After, and SQLAlchemy then discards the whole pool, so the next request reconnects.
    return create_engine(url, pool_size=5, max_overflow=10)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so writers can ask for IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Only a new, empty file takes a page size (before WAL fixes it). Records of 3-6 KB
        # chain to overflow pages at 4 KB; 16 KB halved an ingest's write calls, and 64 KB
        # (the largest) makes a million-record ingest ~5% faster, harvests ~7% faster and
        # the file ~9% smaller than 16 KB, with GetRecord unchanged (docs/performance.md).
        cur.execute("PRAGMA page_size=65536")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front: upgrading a read transaction later can
        # fail with SQLITE_BUSY under concurrency, which would abort an ingest half-way.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("granary_write")
                             else "BEGIN")


def is_sqlite(conn_or_engine: Connection | Engine) -> bool:
    return conn_or_engine.dialect.name == "sqlite"


def db_now_us(conn: Connection) -> int:
    """The current time in microseconds by the database's clock.

    All writers and readers of one PostgreSQL database, on whatever node, share its
    clock; SQLite is only ever shared by processes of one machine, which share theirs.
    """
    if is_sqlite(conn):
        return time.time_ns() // 1000
    return int(conn.execute(text("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")).scalar_one())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its first statement on SQLite.

    On PostgreSQL its statements are planned afresh each time instead of as psycopg's
    prepared statements: a bulk write grows its tables as it goes, and a plan cached
    while `records` was empty (a sequential scan to find 500 local ids) was kept for
    the rest of the transaction, so an ingest slowed with every record it wrote."""
    with engine.connect() as conn:
        conn = conn.execution_options(granary_write=True)
        if is_sqlite(conn):
            with conn.begin():
                yield conn
            return
        driver = conn.connection.dbapi_connection
        threshold, driver.prepare_threshold = driver.prepare_threshold, None
        try:
            with conn.begin():
                yield conn
        finally:
            if not conn.invalidated:
                driver.prepare_threshold = threshold
