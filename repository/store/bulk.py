"""Bulk inserts for the write paths."""
from __future__ import annotations

from sqlalchemy import Connection, Table


def insert_many(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """executemany straight on the driver: bulk ingest spends most of its write time
    building SQLAlchemy parameter dicts otherwise."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)
