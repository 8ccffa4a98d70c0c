"""Every list page is an index seek, however deep the cursor: checked on the query plans.

Speed is measured by benchmarks/; this guards the shape that makes it flat. A bulk
load gives thousands of records one stamp, so a page that seeks on the stamp alone
and then filters ids would grow slower with depth.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from repository.store.queries import _page_sql
from repository.store.rawsql import param_names
from repository.store.writes import WriteSummary, _refresh_statistics


@pytest.fixture
def sqlite_engine(tmp_path):
    from repository.db.engine import make_engine
    from repository.db.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _plan(engine, sql: str) -> list[str]:
    params = {name: 1 for name in param_names(sql)} | {"prefix": "oai_dc", "spec": "a"}
    with engine.connect() as conn:
        return [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql,
                                                       {k: v for k, v in params.items() if k in param_names(sql)})]


@pytest.mark.parametrize("by_set", [False, True])
@pytest.mark.parametrize("with_metadata", [False, True])
def test_resumed_pages_seek_on_stamp_and_id(sqlite_engine, by_set, with_metadata):
    plan = _plan(sqlite_engine, _page_sql(True, with_metadata, by_set, False, False, 0, True))
    table, key = ("rs", "record_id") if by_set else ("r", "id")
    assert any(step.startswith(f"SEARCH {table} USING") and f"stamp=? AND {key}>?" in step for step in plan), plan
    assert not any(step.startswith(("SCAN r", "SCAN rs")) for step in plan), plan
    # The two seeks pick keys; records and their XML are read once, for the page's rows only.
    assert plan.count("SEARCH r USING INTEGER PRIMARY KEY (rowid=?)") == 1, plan
    assert sum(step.startswith("SEARCH d ") for step in plan) == int(with_metadata), plan


def test_first_pages_walk_an_index(sqlite_engine):
    for by_set in (False, True):
        plan = _plan(sqlite_engine, _page_sql(True, True, by_set, True, True, 0, False))
        assert not any(step.startswith(("SCAN r", "SCAN rs")) for step in plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan


@pytest.fixture
def postgres_engine(tmp_path):
    from repository.db.engine import make_engine
    from repository.db.migrate import upgrade
    from tests.databases import fresh_database

    with fresh_database("postgres", tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def test_postgres_pages_seek_with_a_row_comparison(postgres_engine):
    sql = _page_sql(False, True, False, False, False, 0, True)
    assert "(r.stamp, r.id) > (:after_stamp, :after_id)" in sql
    with postgres_engine.connect() as conn:
        conn.execute(sa.text("SET enable_seqscan = off"))  # an empty table would not show the index otherwise
        plan = " ".join(r[0] for r in conn.execute(sa.text("EXPLAIN " + sql),
                                                   {"upper": 10, "after_stamp": 1, "after_id": 1, "limit": 10,
                                                    "prefix": "oai_dc"}))
    assert "ix_records_stamp_id" in plan and "ROW(stamp, id) > ROW(" in plan, plan


def _relations(node: dict) -> set[str]:
    own = {node["Relation Name"]} if "Relation Name" in node else set()
    return own.union(*(_relations(child) for child in node.get("Plans", [])))


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("resumed", [False, True])
@pytest.mark.parametrize("with_metadata", [False, True])
def test_postgres_set_pages_join_only_the_page(postgres_engine, with_metadata, resumed):
    # A fresh store has no statistics, the case in which the planner once joined a whole set
    # to records and their XML and sorted it: the page's keys are limited before any join.
    sql = _page_sql(False, with_metadata, True, False, False, 0, resumed)
    params = {"upper": 10, "after_stamp": 1, "after_id": 1, "limit": 10, "prefix": "oai_dc", "spec": "a"}
    with postgres_engine.connect() as conn:
        (plan,), = conn.execute(sa.text("EXPLAIN (FORMAT JSON) " + sql),
                                {k: v for k, v in params.items() if k in param_names(sql)}).one()
    nodes = list(_nodes(plan["Plan"]))
    assert any(n["Node Type"] == "Limit" and _relations(n) == {"record_sets"} for n in nodes), plan
    assert all(_relations(n) == {"record_sets"} for n in nodes if n["Node Type"] in ("Limit", "Sort")), plan


def _page_plan(engine, stamp: int, record_id: int) -> dict:
    sql = _page_sql(False, True, False, False, False, 0, True)
    params = {"upper": 10**18, "after_stamp": stamp, "after_id": record_id, "limit": 101, "prefix": "oai_dc"}
    with engine.connect() as conn:
        (plan,), = conn.execute(sa.text("EXPLAIN (FORMAT JSON) " + sql), params).one()
    return plan["Plan"]


def test_postgres_pages_of_a_store_written_in_small_writes_walk_the_index(postgres_engine):
    """ListRecords pages stream, and a streamed statement is planned for its own values each
    time. With no statistics the planner took 5,000 records for a few dozen and scanned and
    sorted them all for every page; the first write of records gathers statistics."""
    with postgres_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO records (id, local_id, native_format, content_hash, stamp, deleted, "
                             "set_specs) SELECT g, 'r' || g, 'mods', 'h', 1000 + g, false, '' "
                             "FROM generate_series(1, 5000) AS g")
        conn.exec_driver_sql("INSERT INTO disseminations (record_id, prefix, xml, crosswalk_version) "
                             "SELECT g, 'oai_dc', convert_to(repeat('x', 2000), 'UTF8'), '1' "
                             "FROM generate_series(1, 5000) AS g")
    _refresh_statistics(postgres_engine, WriteSummary(added=50))  # a small write, the first
    nodes = list(_nodes(_page_plan(postgres_engine, 3500, 2500)))
    assert any(n.get("Index Name") == "ix_records_stamp_id" for n in nodes), nodes
    assert not any(n["Node Type"] == "Sort" for n in nodes), nodes


def test_postgres_statistics_follow_a_store_that_grew(postgres_engine):
    """Statistics gathered at the first write are gathered again once `records` has grown by a
    fifth (and 1 MB), not at every small write."""
    def add(first: int, last: int) -> float:
        with postgres_engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO records (id, local_id, native_format, content_hash, stamp, deleted, "
                                 f"set_specs) SELECT g, 'r' || g, 'mods', repeat('h', 64), g, false, 'a b c' "
                                 f"FROM generate_series({first}, {last}) AS g")
        _refresh_statistics(postgres_engine, WriteSummary(added=last - first + 1))
        with postgres_engine.connect() as conn:
            return conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'records'::regclass").scalar()

    assert add(1, 100) == 100
    assert add(101, 200) == 100, "a small write to a small table keeps its statistics"
    assert add(201, 30_000) == 30_000
    assert add(30_001, 31_000) == 30_000, "grown by a thirtieth: kept"
    assert add(31_001, 60_000) == 60_000


_XML_COLUMNS = [("disseminations", "xml"), ("record_sources", "native_xml")]
_SEARCH_COLUMNS = [("search_documents", c) for c in ("title", "names", "subjects", "description", "tsv")]


def _column_attribute(conn, table: str, column: str, attribute: str) -> str:
    return conn.exec_driver_sql(f"SELECT {attribute} FROM pg_attribute "
                                f"WHERE attrelid = '{table}'::regclass AND attname = '{column}'").scalar()


@pytest.mark.parametrize("table, column", _XML_COLUMNS + _SEARCH_COLUMNS)
def test_postgres_compresses_with_lz4(postgres_engine, table, column):
    # List pages decompress every record they send, and every ingest compresses the raw
    # sources and search documents; lz4 does both several times faster than pglz.
    with postgres_engine.connect() as conn:
        if not conn.exec_driver_sql("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                    "WHERE name = 'default_toast_compression'").scalar():
            pytest.skip("this PostgreSQL has no lz4 (older than 14, or built without it)")
        method = _column_attribute(conn, table, column, "attcompression")
    assert method == "l"


@pytest.mark.parametrize("table, column", _XML_COLUMNS)
def test_postgres_keeps_compressed_xml_in_the_row(postgres_engine, table, column):
    # Out of line, every record a page sends costs a TOAST index probe and two chunk reads.
    with postgres_engine.connect() as conn:
        storage = _column_attribute(conn, table, column, "attstorage")
    assert storage == "m"


def test_sqlite_search_index_holds_8_mb_of_new_terms(sqlite_engine):
    # One ingest is one transaction: with FTS5's default 1 MB, a million records were
    # written as thousands of small segments and merged again and again; 64 MB stalled
    # the writer for over a second at each flush.
    with sqlite_engine.connect() as conn:
        config = dict(conn.exec_driver_sql("SELECT k, v FROM search_fts_config").all())
    assert config["hashsize"] == 8 * 1024 * 1024
