"""Streamed rows fail the way SQLAlchemy's own statements fail, and leave the connection usable."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from repository.store import rawsql
from tests.conftest import POSTGRES_URL

ROWS_THEN_ERROR = "SELECT g, 100 / (20 - g) FROM generate_series(1, 30) AS g"


def test_streamed_rows_are_all_the_rows_in_order(engine):
    sql = "SELECT id, local_id FROM records WHERE id >= :low ORDER BY id"
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM records")
        conn.execute(sa.text("INSERT INTO records (id, local_id, native_format, stamp, deleted, set_specs, "
                             "content_hash) VALUES (:id, :local, 'mods', 1, false, '', 'h')"),
                     [{"id": i, "local": f"r{i}"} for i in range(1, 42)])
    with engine.connect() as conn:
        assert list(rawsql.stream(conn, sql, {"low": 3})) == [(i, f"r{i}") for i in range(3, 42)]
        assert rawsql.fetch_all(conn, sql, {"low": 40}) == [(40, "r40"), (41, "r41")]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_an_error_after_some_rows_is_a_dbapi_error_and_the_connection_goes_on(engine):
    """Rows already sent are yielded, then the statement's error surfaces as SQLAlchemy's; the
    connection, cleaned up, runs the next statement."""
    seen = []
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:  # as the app reads
        with pytest.raises(sa.exc.DataError, match="division by zero"):
            for row in rawsql.stream(conn, ROWS_THEN_ERROR, {}):
                seen.append(row[0])
        assert seen == list(range(1, len(seen) + 1)) and len(seen) < 20
        assert rawsql.fetch_all(conn, "SELECT 1", {}) == [(1,)]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_connection_lost_under_a_stream_is_invalidated(engine):
    """A dropped connection is an OperationalError that invalidates it, which the app answers
    with 503 and the pool replaces, as for any other statement."""
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = sa.create_engine(POSTGRES_URL)
        with admin.connect() as other:
            assert other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        admin.dispose()
        with pytest.raises(sa.exc.OperationalError) as err:
            list(rawsql.stream(conn, "SELECT id FROM records", {}))
        assert err.value.connection_invalidated
