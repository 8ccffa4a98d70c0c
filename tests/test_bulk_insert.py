"""`insert_many`: an executemany on SQLite, a binary COPY on PostgreSQL; both must store
exactly the values given, and a duplicate key must surface as SQLAlchemy's IntegrityError
(the store turns that into ConcurrentCreate)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from repository.db.engine import write_transaction
from repository.db.tables import disseminations, record_sources, records
from repository.search.index import PG_TABLE, SQLITE_TABLE
from repository.store.bulk import insert_many

_AWKWARD = "tab\there, newline\nthere, backslash \\N, NUL-free ünïcödé 中文 العربية, quote ' \""
_BLOB = bytes(range(256)) * 20 + b"\\x00\n\t\\N"
_RECORD_COLUMNS = ("local_id", "native_format", "content_hash", "stamp", "deleted", "set_specs", "about")


def _record(local_id: str, about: bytes | None) -> tuple:
    return (local_id, "mods", "h" * 64, 2**40 + 7, False, _AWKWARD, about)


def test_values_come_back_exactly_as_given(engine):
    with write_transaction(engine) as conn:
        insert_many(conn, records.name, _RECORD_COLUMNS, [_record("a", _BLOB), _record("b", None)])
        ids = dict(conn.execute(sa.select(records.c.local_id, records.c.id)).all())
        insert_many(conn, record_sources.name, ("record_id", "native_xml"), [(ids["a"], _BLOB)])
        insert_many(conn, disseminations.name, ("record_id", "prefix", "xml", "crosswalk_version"),
                    [(ids["a"], "oai_dc", _AWKWARD.encode(), "v1"), (ids["a"], "mods", b"", "v1")])
        insert_many(conn, records.name, _RECORD_COLUMNS, [])
    with engine.connect() as conn:
        rows = {r.local_id: r for r in conn.execute(sa.select(records))}
        assert [tuple(getattr(rows[k], c) for c in _RECORD_COLUMNS) for k in "ab"] == \
               [_record("a", _BLOB), _record("b", None)]
        assert conn.execute(sa.select(record_sources.c.native_xml)).scalar_one() == _BLOB
        assert dict(conn.execute(sa.select(disseminations.c.prefix, disseminations.c.xml)).all()) == \
               {"oai_dc": _AWKWARD.encode(), "mods": b""}


def test_search_documents_are_indexed_as_inserted(engine):
    sqlite = engine.dialect.name == "sqlite"
    table = SQLITE_TABLE if sqlite else PG_TABLE
    with write_transaction(engine) as conn:
        insert_many(conn, records.name, _RECORD_COLUMNS, [_record("a", None)])
        rid = conn.execute(sa.select(records.c.id)).scalar_one()
        insert_many(conn, table, ("rowid" if sqlite else "record_id", "title", "names", "subjects",
                                  "description", "year"),
                    [(rid, "Letters to Stalin", "Gao, Gang", "Korean War, 1950-1953", _AWKWARD, None)])
    match = ("SELECT rowid FROM search_fts WHERE search_fts MATCH 'letter'" if sqlite else
             "SELECT record_id FROM search_documents WHERE tsv @@ to_tsquery('english', 'letter')")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(match).scalars().all() == [rid]


def test_a_duplicate_key_is_sqlalchemys_integrity_error(engine):
    with pytest.raises(sa.exc.IntegrityError):
        with write_transaction(engine) as conn:
            insert_many(conn, records.name, _RECORD_COLUMNS, [_record("a", None), _record("a", None)])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(records)).scalar_one() == 0
