"""The full-text search index, filled from the records already in the store.

SQLite: an FTS5 table `search_fts` (rowid = records.id; porter stemming over
unicode61, diacritics folded; `year` stored but not indexed). PostgreSQL: a
table `search_documents` whose weighted tsvector is a generated column under a
GIN index, with a b-tree on year for date filters.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        try:
            bind.exec_driver_sql(
                "CREATE VIRTUAL TABLE search_fts USING fts5(title, names, subjects, description, year UNINDEXED, "
                "tokenize = 'porter unicode61 remove_diacritics 2')")
        except Exception as exc:  # an sqlite3 built without FTS5
            raise RuntimeError(f"Granary's search needs SQLite's FTS5 extension, which this sqlite3 lacks: {exc}") from exc
    else:
        bind.exec_driver_sql(
            "CREATE TABLE search_documents ("
            " record_id integer PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,"
            " title text NOT NULL DEFAULT '', names text NOT NULL DEFAULT '',"
            " subjects text NOT NULL DEFAULT '', description text NOT NULL DEFAULT '', year integer,"
            " tsv tsvector GENERATED ALWAYS AS ("
            "  setweight(to_tsvector('english'::regconfig, title), 'A') ||"
            "  setweight(to_tsvector('english'::regconfig, names), 'B') ||"
            "  setweight(to_tsvector('english'::regconfig, subjects), 'B') ||"
            "  setweight(to_tsvector('english'::regconfig, description), 'C')) STORED)")
        bind.exec_driver_sql("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")
        bind.exec_driver_sql("CREATE INDEX ix_search_documents_year ON search_documents (year)")
    from repository.search.index import reindex_all
    reindex_all(bind)


def downgrade() -> None:
    bind = op.get_bind()
    bind.exec_driver_sql("DROP TABLE search_fts" if bind.dialect.name == "sqlite" else "DROP TABLE search_documents")
