"""PostgreSQL keeps compressed XML in the row (STORAGE MAIN) instead of its TOAST table.

A value still over ~2 KB after compression goes out of line by default: a TOAST
index probe and chunk reads for every record a page sends. In a benchmark store
that was 94% of MODS renderings (4.9 KB, 2.7 KB compressed) and 32% of oai_dc
ones. With STORAGE MAIN a value is compressed as before and moved out of line
only if the row would not fit on a page. Two pairs of 100,000-record stores,
harvested side by side (benchmarks/harvest_pair.py): ListRecords oai_dc +7%
and +2%, mods +1% and +8%; ingest time within the noise. Raw sources get the
same. It applies to values written from now on; existing stores keep their
values where they are until an ingest or `granary recrosswalk` writes them
again, or `VACUUM FULL disseminations, record_sources` moves them into the
rows (tried: a TOAST table of 1.4 MB went to nothing). SQLite stores are
untouched.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


_XML_COLUMNS = (("disseminations", "xml"), ("record_sources", "native_xml"))


def _set_storage(kind: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for table, column in _XML_COLUMNS:
            bind.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE {kind}")


def upgrade() -> None:
    _set_storage("MAIN")


def downgrade() -> None:
    _set_storage("EXTENDED")
