"""PostgreSQL compresses stored XML with lz4 instead of pglz: disseminations and raw sources.

Every record a ListRecords page sends is decompressed by the server first: with
pglz that was a quarter of the backend's time on a page (perf, 30,000 records),
and a page query cost 1.19 ms (oai_dc) and 2.05 ms (mods); lz4 decompresses
several times faster, 0.83 and 1.64 ms, for 5% more space. Raw sources are
rarely read, but every ingest compresses them: their insert went from 77 to
38 µs a record (benchmarks/ingest_costs.py, 30,000 records). It applies to
values written from now on; older ones stay pglz, which PostgreSQL reads as
before, until an ingest or `granary recrosswalk` writes them again. A server
older than 14, or built without lz4, keeps pglz. SQLite stores are untouched.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
from sqlalchemy import Connection

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


_XML_COLUMNS = (("disseminations", "xml"), ("record_sources", "native_xml"))


def _has_lz4(bind: Connection) -> bool:
    """PostgreSQL 14+ built with lz4 offers it among default_toast_compression's values."""
    return bool(bind.exec_driver_sql("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                     "WHERE name = 'default_toast_compression'").scalar())


def _set_compression(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" and _has_lz4(bind):
        for table, column in _XML_COLUMNS:
            bind.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
