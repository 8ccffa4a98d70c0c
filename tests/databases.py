"""Empty databases for tests and stress runs: a SQLite file, or a PostgreSQL schema of its own.

PostgreSQL tests share one database (GRANARY_TEST_POSTGRES_URL, default the local
server's `test`); a schema each lets them run in parallel and leave nothing behind.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

POSTGRES_URL = os.environ.get("GRANARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_database(kind: str, workdir: Path, name: str = "granary") -> Iterator[str]:
    """The URL of an empty database of `kind` ("sqlite" or "postgres"): the file `name`.db in
    `workdir`, deleted afterwards with its WAL, or a schema `name`_<random>, dropped afterwards."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for p in workdir.glob(path.name + "*"):
                p.unlink()
        return
    schema = f"{name}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()
