"""Search: the index follows every write, results are ranked, filtered and paged in bounds;
on SQLite (FTS5) and PostgreSQL (tsvector)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import text

from metadata.errors import MetadataError
from metadata.safe_xml import parse_xml
from repository.demo.load import load_demo
from repository.ingest.prepare import prepare
from repository.search.index import document_of, reindex_all
from repository.search.query import MAX_PAGE, PAGE_SIZE, SearchQuery, fts5_match, search, terms_of, tsquery
from repository.store import writes
from repository.web.record_view import view_of
from tests.shared import CORPUS
from tests.test_web_pages import MODS, page

ANCHOR = "110365"


@pytest.fixture
def demo(settings, engine, registry):
    load_demo(settings, engine, registry)


def _write(engine, registry, local_id: str, title: str, year: str = "1950", abstract: str = "", sets=()):
    xml = (f'<mods xmlns="{MODS}" version="3.8"><titleInfo><title>{title}</title></titleInfo>'
           f'<originInfo><dateCreated keyDate="yes">{year}</dateCreated></originInfo>'
           + (f"<abstract>{abstract}</abstract>" if abstract else "") + "</mods>").encode()
    fmt = registry.format("mods")
    writes.write_records(engine, 60, [prepare(registry, fmt, etree.fromstring(xml), local_id, xml, frozenset(sets))])


def _mods_roots() -> list[etree._Element]:
    """Every MODS record of the shared corpus and the demo collection."""
    paths = [*sorted(CORPUS.rglob("*.xml")), *sorted((Path(__file__).parents[1] / "repository/demo/records").glob("*.xml"))]
    roots = []
    for path in paths:
        try:
            roots += parse_xml(path.read_bytes(), path.name).getroot().iter(f"{{{MODS}}}mods")
        except MetadataError:
            continue  # the corpus's invalid/ holds some on purpose
    return roots


def test_search_documents_read_records_as_their_pages_do():
    """Ingest makes search documents with a reader of their own (the page's whole view costs
    twice as much); on every real record it must agree with what the record page shows."""
    roots = _mods_roots()
    assert len(roots) > 100
    for root in roots:
        view = view_of(root)
        doc = document_of(root)
        assert (doc.title, doc.names, doc.subjects, doc.description, doc.year) == (
            view.title, "\n".join(n.name for n in view.names), "\n".join(view.subjects),
            "\n".join([*view.abstracts, *(t for _, t in view.notes)]), view.year), root.sourceline


def _hits(engine, q: str, **kw) -> list[str]:
    with engine.connect() as conn:
        ids = search(conn, SearchQuery(q, **kw)).ids
        if not ids:
            return []
        rows = dict(conn.execute(text(f"SELECT id, local_id FROM records WHERE id IN ({','.join(map(str, ids))})")).all())
    return [rows[i] for i in ids]


def test_query_text_never_reaches_a_query_language():
    assert terms_of('"x" OR y) NEAR(z) a:b -c & d | !e <-> f_g armist*') == \
        ["x", "OR", "y", "NEAR", "z", "a", "b", "c", "d", "e", "f", "g", "armist*"]
    assert fts5_match(["OR", "armist*"]) == '"OR" "armist"*'
    assert tsquery(["OR", "armist*"]) == "OR & armist:*"


def test_search_finds_titles_names_subjects_descriptions(engine, demo):
    assert ANCHOR in _hits(engine, "Gao Gang")                       # names
    assert ANCHOR in _hits(engine, "neutral zones")                  # subjects
    assert ANCHOR in _hits(engine, "armistice Taiwan")               # description
    assert ANCHOR in _hits(engine, "handwritten letters")            # title, stemmed
    assert ANCHOR in _hits(engine, "armist*")                        # prefix
    assert _hits(engine, "xyzzy") == []
    assert _hits(engine, "   ") == []


def test_ranking_puts_title_matches_first(engine, registry):
    _write(engine, registry, "desc", "Minutes of a meeting", abstract="Mentions the harbour once.")
    _write(engine, registry, "title", "The harbour question")
    assert _hits(engine, "harbour") == ["title", "desc"]


def test_filters_by_set_and_year(engine, demo):
    everything = _hits(engine, "Stalin")
    in_korea = _hits(engine, "Stalin", set_spec="korea")
    assert in_korea and set(in_korea) < set(everything)
    with engine.connect() as conn:
        members = set(conn.execute(text("SELECT r.local_id FROM records r JOIN record_sets s ON s.record_id = r.id "
                                        "WHERE s.spec = 'korea'")).scalars())
    assert set(in_korea) <= members
    only_1951 = _hits(engine, "Stalin", year_from=1951, year_to=1951)
    assert ANCHOR in only_1951 and ANCHOR not in _hits(engine, "Stalin", year_from=1952)


def test_index_follows_updates_and_withdrawals(settings, engine, registry):
    _write(engine, registry, "r1", "Telegram about grain")
    assert _hits(engine, "grain") == ["r1"]
    _write(engine, registry, "r1", "Telegram about steel")
    assert _hits(engine, "grain") == [] and _hits(engine, "steel") == ["r1"]
    writes.delete_record(engine, 60, "r1")
    assert _hits(engine, "steel") == []
    _write(engine, registry, "r1", "Telegram about steel")           # a withdrawn record revived
    assert _hits(engine, "steel") == ["r1"]


def test_reindex_all_rebuilds_the_index(engine, demo):
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM search_fts" if conn.dialect.name == "sqlite" else "DELETE FROM search_documents")
    assert _hits(engine, "Stalin") == []
    with engine.begin() as conn:
        assert reindex_all(conn) == 75
    assert ANCHOR in _hits(engine, "Stalin")


def test_paging_is_bounded(engine, registry):
    for i in range(PAGE_SIZE + 3):
        _write(engine, registry, f"p{i:02d}", f"Report number {i} on wheat")
    with engine.connect() as conn:
        first = search(conn, SearchQuery("wheat"))
        second = search(conn, SearchQuery("wheat", page=2))
        beyond = search(conn, SearchQuery("wheat", page=MAX_PAGE + 10))
    assert first.total == PAGE_SIZE + 3 and not first.capped
    assert len(first.ids) == PAGE_SIZE and len(second.ids) == 3 and not set(first.ids) & set(second.ids)
    assert beyond.ids == []  # clamped to the last reachable page, which is empty here


def test_search_page(client, demo):
    html = page(client, "/search")
    assert "Every word must appear" in html
    html = page(client, "/search?q=Gao+Gang")
    assert re.search(r"\d+ records? found", html)
    assert f'href="/records/{ANCHOR}"' in html and "<mark>Gao</mark>" in html
    html = page(client, "/search?q=Stalin&set=korea&from=1950&to=1953")
    assert '<option value="korea" selected>' in html
    html = page(client, "/search?q=xyzzy")
    assert "No records found" in html


def test_search_page_errors_are_400_with_messages(client, demo):
    html = page(client, "/search?q=Stalin&from=nineteen", 400)
    assert "must be a year" in html and 'aria-invalid="true"' in html
    html = page(client, "/search?q=Stalin&set=nope", 400)
    assert "no such set" in html
    html = page(client, f"/search?q=Stalin&page={MAX_PAGE + 1}", 400)
    assert f"first {MAX_PAGE} pages" in html
    page(client, "/search?q=Stalin&page=x", 400)


def test_search_page_pager_links(client, engine, registry):
    for i in range(PAGE_SIZE + 1):
        _write(engine, registry, f"p{i:02d}", f"Note {i} on barley")
    html = page(client, "/search?q=barley")
    assert "21 records found" in html and "Page 1 of 2" in html
    nxt = re.search(r'<a rel="next" href="([^"]+)">', html).group(1).replace("&amp;", "&")
    html = page(client, nxt)
    assert "Showing 21–21" in html and 'rel="prev"' in html


def test_common_words_are_ranked_among_the_newest_matches(engine, registry):
    """Past RANK_POOL matches the scores are computed over the newest RANK_POOL of them (here
    a pool of 3): bounded work for a word in half the collection, and said on the result."""
    _write(engine, registry, "old-title", "Barley")                                # best match, oldest
    for i in range(4):
        _write(engine, registry, f"new-{i}", f"Minutes {i}", abstract="On barley and more.")
    with engine.connect() as conn:
        exact = search(conn, SearchQuery("barley"), pool=10)
        pooled = search(conn, SearchQuery("barley"), pool=3)
        ids = dict(conn.execute(text("SELECT local_id, id FROM records")).all())
    assert exact.ids[0] == ids["old-title"] and not exact.pooled and exact.total == 5
    assert pooled.pooled and pooled.total == 5
    assert sorted(pooled.ids) == sorted(ids[f"new-{i}"] for i in (1, 2, 3))  # the three newest matches
    _write(engine, registry, "unrelated", "Wheat")
    with engine.connect() as conn:
        scanned = search(conn, SearchQuery("barley"), pool=3, scan=3)
    # PostgreSQL ranks the matches among the `scan` newest records; SQLite's pool is its newest matches.
    expected = (1, 2, 3) if engine.dialect.name == "sqlite" else (2, 3)
    assert sorted(scanned.ids) == sorted(ids[f"new-{i}"] for i in expected) and scanned.pooled
    assert scanned.reachable == len(expected) and exact.reachable == 5  # what the pager may offer


def test_search_page_says_when_ranking_was_pooled(app, client, engine, registry):
    for i in range(3):
        _write(engine, registry, f"oat-{i}", f"Oats report {i}")
    app.config["GRANARY_SEARCH_RANK_POOL"] = 2
    html = client.get("/search?q=oats").get_data(as_text=True)
    assert "3 records found" in html and "among the 2 most recently added" in html
    app.config["GRANARY_SEARCH_RANK_POOL"] = 10
    assert "most recently added" not in client.get("/search?q=oats").get_data(as_text=True)
