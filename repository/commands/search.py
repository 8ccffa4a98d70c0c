"""`granary search reindex`: rebuild the full-text index from the store."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from repository.commands.common import require_schema
from repository.db.engine import write_transaction


@click.group("search", cls=AppGroup)
def search_group() -> None:
    """The full-text search index behind the web pages."""


@search_group.command("reindex")
def reindex_command() -> None:
    """Rebuild the index from every live record (writes keep it current; this repairs it)."""
    from repository.search.index import reindex_all

    st = require_schema()
    with write_transaction(st.engine) as conn:
        n = reindex_all(conn)
    click.echo(f"indexed {n} record(s)")
