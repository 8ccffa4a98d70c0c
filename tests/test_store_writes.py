"""Conditional writes, set replacement and set edits: the store API the REST API builds on."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from metadata.safe_xml import parse_xml
from repository.db.tables import records, sets
from repository.ingest.prepare import prepare
from repository.store import writes
from repository.store.errors import PreconditionFailed, RecordNotFound, SetError
from tests.fixtures import corpus_paths


def _prepared(registry, path, **kw):
    data = path.read_bytes()
    return prepare(registry, registry.format("mods"), parse_xml(data, str(path)).getroot(), "r1", data,
                   kw.pop("sets", frozenset()), str(path))


def _replace(p, **changes):
    from dataclasses import replace
    return replace(p, **changes)


def _row(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(records.c.stamp, records.c.set_specs, records.c.deleted)).one()


@pytest.fixture
def one(engine, registry):
    writes.add_set(engine, 60, "a", "A", None)
    writes.add_set(engine, 60, "b", "B", None)
    path = corpus_paths("mods/fsu-*.xml")[0]
    writes.write_records(engine, 60, [_prepared(registry, path, sets=frozenset({"a"}))])
    return path


def test_stale_if_stamp_is_refused_and_changes_nothing(engine, registry, one):
    before = _row(engine)
    p = _replace(_prepared(registry, corpus_paths("mods/fsu-*.xml")[1]), if_stamp=before.stamp - 1)
    with pytest.raises(PreconditionFailed) as err:
        writes.write_records(engine, 60, [p])
    assert err.value.current_stamp == before.stamp
    assert _row(engine) == before


def test_matching_if_stamp_writes(engine, registry, one):
    before = _row(engine)
    p = _replace(_prepared(registry, corpus_paths("mods/fsu-*.xml")[1]), if_stamp=before.stamp)
    assert writes.write_records(engine, 60, [p]).updated == 1
    assert _row(engine).stamp > before.stamp


def test_if_stamp_on_a_missing_record_is_refused(engine, registry):
    p = _replace(_prepared(registry, corpus_paths("mods/fsu-*.xml")[0]), if_stamp=1)
    with pytest.raises(PreconditionFailed):
        writes.write_records(engine, 60, [p])


def test_replace_sets_sets_exactly_the_given_memberships(engine, registry, one):
    p = _replace(_prepared(registry, one, sets=frozenset({"b"})), replace_sets=True)
    assert writes.write_records(engine, 60, [p]).updated == 1
    assert _row(engine).set_specs == "b"
    again = _replace(_prepared(registry, one, sets=frozenset({"b"})), replace_sets=True)
    assert writes.write_records(engine, 60, [again]).unchanged == 1, "the same PUT twice changes nothing"


def test_conditional_delete(engine, one):
    before = _row(engine)
    with pytest.raises(PreconditionFailed):
        writes.delete_record(engine, 60, "r1", if_stamp=before.stamp + 5)
    assert writes.delete_record(engine, 60, "r1", if_stamp=before.stamp) is True
    with pytest.raises(RecordNotFound):
        writes.delete_record(engine, 60, "nope")


def test_update_set_renames_without_moving_datestamps(engine, one):
    before = _row(engine)
    writes.update_set(engine, 60, "a", name="Renamed", description="Now described")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sets.c.name, sets.c.description).where(sets.c.spec == "a")).one() == \
            ("Renamed", "Now described")
    assert _row(engine) == before
    with pytest.raises(SetError, match="does not exist"):
        writes.update_set(engine, 60, "zzz", name="x")
    with pytest.raises(SetError, match="non-empty"):
        writes.update_set(engine, 60, "a", name=" ")


def _prepared_statements(conn) -> int:
    return conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one()


def test_write_transactions_plan_each_statement_afresh(engine):
    """A bulk write grows the tables it looks records up in; psycopg's prepared statements
    would keep a plan made while they were empty (a sequential scan) for the whole write.
    Reads on the same pooled connection still get prepared after a few runs."""
    if engine.dialect.name != "postgresql":
        pytest.skip("psycopg's prepared statements are PostgreSQL's")
    from repository.db.engine import write_transaction

    lookup = sa.select(records.c.id).where(records.c.local_id.in_(["a", "b"]))
    with write_transaction(engine) as conn:
        for _ in range(8):
            conn.execute(lookup).all()
        assert _prepared_statements(conn) == 0
    with engine.connect() as conn:
        for _ in range(8):
            conn.execute(lookup).all()
        assert _prepared_statements(conn) >= 1
