"""Bulk inserts for the write paths."""
from __future__ import annotations

from sqlalchemy import Connection

from repository.store.rawsql import driver_error


def insert_many(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert `rows` straight through the driver.

    SQLite takes an executemany: building SQLAlchemy parameter dicts was most of bulk
    ingest's write time. PostgreSQL takes a COPY: write transactions plan every
    statement afresh (see `write_transaction`), which for an executemany meant parsing
    and planning each row, the search index's generated tsvector expression included.
    Errors are SQLAlchemy's, as an executemany's would be: IntegrityError for a duplicate."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['?'] * len(columns))})", rows)
        return
    sql = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
    try:
        types = _column_types(conn, table)
        with conn.connection.dbapi_connection.cursor() as cur, cur.copy(sql) as copy:
            copy.set_types([types[c] for c in columns])
            for row in rows:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise driver_error(conn, sql, {}, exc) from exc


def _column_types(conn: Connection, table: str) -> dict[str, int]:
    """Binary COPY needs each column's exact type. The catalogue is asked once per table on
    each pooled connection, not for every chunk of a bulk write."""
    cache = conn.connection.info.setdefault("granary_column_types", {})
    if table not in cache:
        with conn.connection.dbapi_connection.cursor() as cur:
            cache[table] = dict(cur.execute("SELECT attname, atttypid FROM pg_attribute "
                                            "WHERE attrelid = %s::regclass AND attnum > 0", (table,)).fetchall())
    return cache[table]
