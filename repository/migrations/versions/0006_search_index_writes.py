"""Cheaper writes to the search index on both databases.

PostgreSQL: `search_documents` compresses its text and tsvector with lz4, as
0004 did for stored XML. A document (1.4 KB of text on average, plus its
tsvector) is mostly over the 2 KB TOAST threshold, so every ingested record was
compressed with pglz: 1.9% of all CPU in a 30,000-record ingest (perf), lz4
does the same in a fraction of that.

SQLite: FTS5 keeps up to 8 MB of new terms in memory before writing them as a
segment, instead of 1 MB. A million-record ingest is one transaction, and with
1 MB it wrote thousands of small segments and merged them again and again.
Inserting 500,000 documents into an empty index in one transaction
(benchmarks/fts_buffer.py): 24.7 s with 1 MB, 20.3 s with 8 MB, 15.9 s with
64 MB; but each flush stalls the writer, for up to 0.35 s with 8 MB and 1.4 s
with 64 MB, and staging workers wait while it does. One `granary ingest` of
1,000,000 records: 398 s with 1 MB (702 s of CPU), 393 s with 64 MB (577 s),
and 309, 344 and 341 s with 8 MB (561-611 s), single runs varying by ~10%.
Small writes are unchanged: FTS5 writes what it holds at every commit.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
from sqlalchemy import Connection

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


_PG_COLUMNS = ("title", "names", "subjects", "description", "tsv")
FTS5_HASHSIZE = 8 * 1024 * 1024
_FTS5_DEFAULT_HASHSIZE = 1024 * 1024


def _has_lz4(bind: Connection) -> bool:
    return bool(bind.exec_driver_sql("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                     "WHERE name = 'default_toast_compression'").scalar())


def _apply(compression: str, hashsize: int) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql(f"INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', {hashsize})")
    elif _has_lz4(bind):
        for column in _PG_COLUMNS:
            bind.exec_driver_sql(f"ALTER TABLE search_documents ALTER COLUMN {column} SET COMPRESSION {compression}")


def upgrade() -> None:
    _apply("lz4", FTS5_HASHSIZE)


def downgrade() -> None:
    _apply("pglz", _FTS5_DEFAULT_HASHSIZE)
