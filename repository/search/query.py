"""Relevance-ranked search with set and year filters, in bounded pages.

Ranking is FTS5's bm25 on SQLite (title weighted 10, names and subjects 4,
description 1) and ts_rank on PostgreSQL (weights A/B/C on the same fields).
Relevance order has no cheap keyset, so pages are offsets, bounded: at most
MAX_PAGE pages of PAGE_SIZE hits are reachable (the first 1,000 hits), and the
total is counted up to COUNT_CAP, beyond which the page says "more than".
A deeper question is better asked by narrowing it (a set, a date range).

Scoring every match would make a common word cost time in proportion to the
collection (a word in half of a million records: half a million scores). So a
question with at most RANK_POOL matches is ranked exactly, and a more common
one among a bounded pool of its newest matches, which the page says: on SQLite
its RANK_POOL newest matches (FTS5 reads them in rowid order and stops), on
PostgreSQL its matches among the RANK_SCAN newest records (a GIN index yields
matches in no order, so the newest records are read and matched instead).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

from repository.search.index import PG_TABLE, SQLITE_TABLE

PAGE_SIZE = 20
MAX_PAGE = 50
COUNT_CAP = 1000
RANK_POOL = 5000
RANK_SCAN = 20000  # PostgreSQL, past the pool: the newest documents matched one by one
MAX_TERMS = 16
_TOKEN = re.compile(r"[^\W_]+\*?", re.UNICODE)  # letters and digits; nothing a query syntax reads


@dataclass(frozen=True)
class SearchQuery:
    q: str
    set_spec: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    page: int = 1


@dataclass(frozen=True)
class SearchResult:
    ids: list[int]           # record ids of this page, best first
    total: int               # capped at COUNT_CAP + 1
    capped: bool             # total is "more than COUNT_CAP"
    terms: list[str]
    pooled: bool = False     # more matches than RANK_POOL: ranked among the newest of them
    ranked: int | None = None  # how many hits the pages can reach (the pool's size); None: all

    @property
    def reachable(self) -> int:
        """Hits the pager may offer: counted ones, up to COUNT_CAP, and no more than were ranked."""
        return min(self.total, COUNT_CAP, self.total if self.ranked is None else self.ranked)


def terms_of(q: str) -> list[str]:
    return _TOKEN.findall(q)[:MAX_TERMS]


def fts5_match(terms: list[str]) -> str:
    """An FTS5 query of the words, all required: each one quoted (no FTS5 syntax
    can come from the user), a trailing * kept as a prefix search."""
    out = []
    for t in terms:
        word = t.rstrip("*")
        if word:
            out.append(f'"{word}"*' if t.endswith("*") else f'"{word}"')
    return " ".join(out)


def tsquery(terms: list[str]) -> str:
    """A PostgreSQL tsquery of the words, all required: the words are letters and digits only, so no
    tsquery operator can come from the user; a trailing * becomes a prefix match."""
    out = []
    for t in terms:
        word = t.rstrip("*")
        if word:
            out.append(f"{word}:*" if t.endswith("*") else word)
    return " & ".join(out)


def _filters(sq: SearchQuery, id_col: str, params: dict) -> str:
    sql = ""
    if sq.set_spec:
        # On SQLite `+rowid` keeps the set out of FTS5's plan: given `rowid IN (...)`, FTS5
        # re-runs the MATCH once per member of the set (seconds on a big set), instead of
        # matching once and probing the set's members, built once from the membership index.
        # It comes before the years, which SQLite tests in the order written: a probe of the
        # set costs less than reading a match's year from FTS5's content (at 1,000,000
        # records, a common word in a 2.5% set and two decades: 657 ms the other way, 84 ms).
        sql += f" AND {id_col} IN (SELECT record_id FROM record_sets WHERE spec = :spec)"
        params["spec"] = sq.set_spec
    if sq.year_from is not None:
        sql += " AND year >= :year_from"
        params["year_from"] = sq.year_from
    if sq.year_to is not None:
        sql += " AND year <= :year_to"
        params["year_to"] = sq.year_to
    return sql


def search(conn: Connection, sq: SearchQuery, pool: int = RANK_POOL, scan: int = RANK_SCAN) -> SearchResult:
    terms = terms_of(sq.q)
    offset = (min(max(sq.page, 1), MAX_PAGE) - 1) * PAGE_SIZE
    if conn.dialect.name == "sqlite":
        match = fts5_match(terms)
        if not match:
            return SearchResult([], 0, False, terms)
        ids, total, ranked = _sqlite_page(conn, match, sq, offset, pool)
    else:
        query = tsquery(terms)
        if not query:
            return SearchResult([], 0, False, terms)
        ids, total, ranked = _postgres_page(conn, query, sq, offset, pool, scan)
    return SearchResult(ids, min(total, COUNT_CAP + 1), total > COUNT_CAP, terms, pooled=total > pool, ranked=ranked)


def _sqlite_page(conn: Connection, match: str, sq: SearchQuery, offset: int,
                 pool: int) -> tuple[list[int], int, int]:
    """One pass: the pool (newest matches first, one more than the pool to tell if there are
    more) with its scores, counted and ranked here."""
    params: dict = {"match": match, "pool": max(COUNT_CAP, pool) + 1}
    where = f"{SQLITE_TABLE} MATCH :match" + _filters(sq, "+rowid", params)
    rows = conn.execute(text(f"SELECT rowid, bm25({SQLITE_TABLE}, 10.0, 4.0, 4.0, 1.0) FROM {SQLITE_TABLE} "
                             f"WHERE {where} ORDER BY rowid DESC LIMIT :pool"), params).all()
    ranked = sorted(rows[:pool], key=lambda r: (r[1], r[0]))
    return [int(r[0]) for r in ranked[offset:offset + PAGE_SIZE]], len(rows), len(ranked)


def _postgres_page(conn: Connection, query: str, sq: SearchQuery, offset: int, pool: int,
                   scan: int) -> tuple[list[int], int, int]:
    params: dict = {"query": query}
    where = "tsv @@ to_tsquery('english', :query)" + _filters(sq, "record_id", params)
    total = int(conn.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {PG_TABLE} WHERE {where} LIMIT :cap) AS hits"),
                             {**params, "cap": max(COUNT_CAP, pool) + 1}).scalar_one())
    if total <= pool:
        ids = conn.execute(text(f"SELECT record_id FROM {PG_TABLE} WHERE {where} "
                                f"ORDER BY ts_rank(tsv, to_tsquery('english', :query)) DESC, record_id "
                                f"LIMIT :limit OFFSET :offset"),
                           {**params, "limit": PAGE_SIZE, "offset": offset}).scalars()
        return [int(i) for i in ids], total, total
    # Past the pool, the GIN index would fetch and sort every match to find the newest.
    # Instead the newest `scan` documents are read in primary-key order and matched one
    # by one: bounded work, however the words are spread (two common words rarely
    # together would otherwise send a backward walk through most of the table). The
    # pool comes back whole, so the pager offers only the pages it fills.
    rows = conn.execute(text(
        f"SELECT record_id, ts_rank(tsv, to_tsquery('english', :query)) FROM "
        f"(SELECT record_id, tsv, year FROM {PG_TABLE} ORDER BY record_id DESC LIMIT {int(scan)}) AS recent "
        f"WHERE {where} ORDER BY record_id DESC LIMIT :pool"), {**params, "pool": pool}).all()
    ranked = sorted(rows, key=lambda r: (-r[1], r[0]))
    return [int(r[0]) for r in ranked[offset:offset + PAGE_SIZE]], total, len(ranked)
