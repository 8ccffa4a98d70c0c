"""Create or upgrade the schema with Alembic (what `granary init` runs), and tell whether a store is current.

Alembic is imported only to change a schema: with its templating it is a fifth of
every other command's start-up (0.1 s of ~0.5 s), and those need only to compare
one stored revision with the newest.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The newest revision under migrations/versions; tests/test_cli.py checks that it is Alembic's head.
HEAD = "0006"
VERSION_TABLE = "alembic_version"


def _config() -> Config:
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def alembic_head() -> str:
    """The head revision as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (revision before, revision after)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    cfg = _config()
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, alembic_head()


def is_current(engine: Engine) -> bool:
    """Whether the store exists and is at HEAD."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return False
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == HEAD
