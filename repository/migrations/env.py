"""Alembic environment: migrations run against the connection `granary init` passes in."""
from alembic import context

from repository.db.tables import metadata_obj

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata_obj, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
