"""Conditional writes, set replacement and set edits: the store API the REST API builds on."""
from __future__ import annotations

from itertools import groupby

import pytest
import sqlalchemy as sa

from metadata.safe_xml import parse_xml
from repository.db.tables import disseminations, record_sets, records, sets
from repository.ingest.prepare import prepare
from repository.search.index import PG_TABLE, SQLITE_TABLE
from repository.store import writes
from repository.store.errors import PreconditionFailed, RecordNotFound, RecordsNotFound, SetError
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


def _many(engine, registry, n: int) -> list[str]:
    """n records r0..r{n-1}, all in set a."""
    writes.add_set(engine, 60, "a", "A", None)
    mods = registry.format("mods")
    paths = corpus_paths("mods/fsu-*.xml")
    prepared = []
    for i in range(n):
        data = paths[i % len(paths)].read_bytes()
        prepared.append(prepare(registry, mods, parse_xml(data, "x").getroot(), f"r{i}", data, frozenset({"a"})))
    writes.write_records(engine, 60, prepared)
    return [f"r{i}" for i in range(n)]


def _state(engine) -> dict:
    """Per record: (deleted, stamp, the stamps its memberships carry, its formats, whether it is searchable)."""
    with engine.connect() as conn:
        index = SQLITE_TABLE if engine.dialect.name == "sqlite" else PG_TABLE
        indexed = set(conn.exec_driver_sql(
            f"SELECT {'rowid' if index == SQLITE_TABLE else 'record_id'} FROM {index}").scalars())
        out = {}
        for rid, local, deleted, stamp in conn.execute(
                sa.select(records.c.id, records.c.local_id, records.c.deleted, records.c.stamp)):
            member_stamps = set(conn.execute(sa.select(record_sets.c.stamp).where(record_sets.c.record_id == rid))
                                .scalars())
            formats = set(conn.execute(sa.select(disseminations.c.prefix).where(disseminations.c.record_id == rid))
                          .scalars())
            out[local] = (deleted, stamp, member_stamps, formats, rid in indexed)
        return out


def test_withdrawing_a_list_is_all_or_nothing_across_chunks(engine, registry):
    """Unknown identifiers anywhere in a list, in any chunk, are all named and nothing is
    withdrawn; a good list tombstones every record in one go: a new stamp, carried by its
    memberships, no disseminations, out of the search index; repeats and tombstones are told apart."""
    ids = _many(engine, registry, 7)
    before = _state(engine)
    assert all(not d and f == {"mods", "oai_dc"} and s and m == {st} for d, st, m, f, s in before.values())

    def run(local_ids):
        return writes.run_write(engine, 60, lambda conn, now: writes.withdraw(conn, now, local_ids, chunk_size=2))

    with pytest.raises(RecordsNotFound) as err:
        run(["r0", "x1", "r1", "r2", "r3", "x2", "r4"])
    assert err.value.local_ids == ["x1", "x2"]
    assert str(err.value) == "no records with local identifiers 'x1', 'x2'"
    assert _state(engine) == before

    writes.delete_record(engine, 60, "r6")
    done = run(["r0", "r1", "r0", "r2", "r3", "r4", "r6"])
    assert (done.withdrawn, done.already_deleted, done.unknown) == (["r0", "r1", "r2", "r3", "r4"], ["r6"], [])
    after = _state(engine)
    for local in ids[:5]:
        deleted, stamp, member_stamps, formats, searchable = after[local]
        assert deleted and stamp > before[local][1] and member_stamps == {stamp}
        assert formats == set() and not searchable
    assert after["r5"] == before["r5"]

    passed_over = writes.run_write(engine, 60, lambda conn, now: writes.withdraw(conn, now, ["r5", "x"],
                                                                                unknown_ok=True))
    assert (passed_over.withdrawn, passed_over.unknown) == (["r5"], ["x"])


def test_renderings_are_stored_format_by_format(engine, registry):
    """A batch's renderings are laid out one format after another, so a harvest or GetRecord
    of one format reads pages holding only that format. Both databases place rows in the
    order they were inserted (SQLite by rowid; PostgreSQL's heap by ctid, where a row may
    also fill a gap an earlier insert left in a page)."""
    _many(engine, registry, 9)
    position = "ctid" if engine.dialect.name == "postgresql" else "rowid"
    with engine.connect() as conn:
        stored = conn.execute(sa.text(f"SELECT prefix FROM disseminations ORDER BY {position}")).scalars().all()
    assert len(stored) == 18
    assert [prefix for prefix, _ in groupby(stored)] == ["mods", "oai_dc"]
