"""Fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL tests each get a fresh schema in the database named by
GRANARY_TEST_POSTGRES_URL (default: the local server's `test` database), so
they can run in parallel and leave nothing behind.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from crosswalks.registry import default_registry
from repository.app import create_app
from repository.config import Settings
from repository.db.engine import make_engine
from repository.db.migrate import upgrade
from repository.store import writes
from tests.databases import POSTGRES_URL, fresh_database  # noqa: F401  (POSTGRES_URL: imported from here too)

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path: Path):
    with fresh_database(request.param, tmp_path) as url:
        yield url


def make_settings(db_url: str, workdir: Path, **extra: str) -> Settings:
    env = {"GRANARY_DATABASE_URL": db_url, "GRANARY_SECRET_KEY": "test-secret",
           "GRANARY_REPOSITORY_IDENTIFIER": "granary.test", "GRANARY_BASE_URL": "http://granary.test/oai",
           "GRANARY_ADMIN_EMAIL": "librarian@granary.test", "GRANARY_PAGE_SIZE": "7", **extra}
    return Settings.from_env(env, workdir)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


@pytest.fixture
def engine(settings: Settings):
    eng = make_engine(settings.database_url)
    upgrade(eng)
    writes.record_creation_time(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def registry():
    return default_registry()


@pytest.fixture
def app(settings, engine, registry):
    return create_app(settings, engine, registry)


@pytest.fixture
def client(app):
    return app.test_client()
