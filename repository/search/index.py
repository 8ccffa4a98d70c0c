"""The full-text index: one document per live record, kept current by the store's writes.

A document holds the record's title, names, subjects and description (abstracts
and notes), read from its MODS dissemination by the record page's own reader,
and its year for date filters. SQLite keeps it in an FTS5 table (`search_fts`,
rowid = record id, porter-stemmed), PostgreSQL in `search_documents` with a
weighted tsvector (title A, names and subjects B, description C) under a GIN index.

`reindex` is called inside the write transaction that changed the records, so
the index never disagrees with a committed store.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import Connection, and_, select

from metadata.errors import MetadataError
from metadata.safe_xml import parse_xml
from repository.db.tables import disseminations, records
from repository.store.bulk import insert_many
from repository.web.record_view import search_fields

SQLITE_TABLE = "search_fts"
PG_TABLE = "search_documents"
BATCH = 500


@dataclass(frozen=True)
class SearchDocument:
    title: str
    names: str
    subjects: str
    description: str
    year: int | None


def document(mods_xml: bytes) -> SearchDocument | None:
    try:
        root = parse_xml(mods_xml, "record").getroot()
    except MetadataError:
        return None
    return document_of(root)


def document_of(root: etree._Element) -> SearchDocument:
    """The search document of a MODS root, read as the record page reads it."""
    f = search_fields(root)
    return SearchDocument(f.title, "\n".join(f.names), "\n".join(f.subjects), "\n".join(f.description), f.year)


def reindex(conn: Connection, record_ids: Iterable[int],
            documents: dict[int, SearchDocument | None] | None = None, created: frozenset[int] = frozenset()) -> None:
    """Make the index agree with the store for these records: live ones are (re)indexed
    from their MODS dissemination, deleted or missing ones are removed. `documents` are
    ready-made documents of live records (ingest makes them in its worker processes).
    `created` are records this transaction inserted: they have no old document to delete,
    and on SQLite a DELETE, even of nothing, makes FTS5 flush what it holds in memory."""
    ids = sorted(set(record_ids))
    documents = documents or {}
    table, key = (SQLITE_TABLE, "rowid") if conn.dialect.name == "sqlite" else (PG_TABLE, "record_id")
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        stale = ", ".join(str(int(i)) for i in chunk if i not in created)
        docs = [(i, documents[i]) for i in chunk if documents.get(i) is not None]
        missing = [i for i in chunk if i not in documents]
        if missing:
            rows = conn.execute(
                select(records.c.id, disseminations.c.xml)
                .select_from(records.join(disseminations, and_(disseminations.c.record_id == records.c.id,
                                                                disseminations.c.prefix == "mods")))
                .where(records.c.id.in_(missing), records.c.deleted.is_(False))).all()
            docs += [(r.id, d) for r in rows if (d := document(r.xml)) is not None]
        values = [(rid, d.title, d.names, d.subjects, d.description, d.year) for rid, d in docs]
        if stale:
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE {key} IN ({stale})")
        insert_many(conn, table, (key, "title", "names", "subjects", "description", "year"), values)


def reindex_all(conn: Connection, progress=None) -> int:
    """Rebuild the whole index from the store (the migration's backfill, `granary search reindex`)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"DELETE FROM {SQLITE_TABLE}")
    else:
        conn.exec_driver_sql(f"DELETE FROM {PG_TABLE}")
    after, done = 0, 0
    while True:
        ids = list(conn.execute(select(records.c.id).where(records.c.id > after, records.c.deleted.is_(False))
                                .order_by(records.c.id).limit(BATCH)).scalars())
        if not ids:
            return done
        reindex(conn, ids)
        done += len(ids)
        after = ids[-1]
        if progress:
            progress(len(ids))
