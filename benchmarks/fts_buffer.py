"""What FTS5's term buffer (`hashsize`) costs and saves in a one-transaction ingest.

Run: python benchmarks/fts_buffer.py [--size 100000] [--files 100] [--repeat 5] [--sizes-mb 1,8,16,64]
                                     [--automerge 4]

Builds the search documents of the generated corpus's first files as ingest
does (`search_fields` on each MODS record), then, for each buffer size, inserts
them `--repeat` times over (fresh rowids) into an empty FTS5 table of Granary's
definition, in one transaction of 500-row executemany calls, on a WAL database
with 16 KB pages, as `granary ingest` writes. It prints the insert time, the
longest single call (a flush of the buffer stalls the writer for that long)
and the commit's time. `--automerge` also tries FTS5's merge settings (segments
a level holds before they are merged; Granary keeps the default, 4).
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import OUT  # noqa: E402

from crosswalks.registry import default_registry  # noqa: E402
from repository.ingest.extract import extract  # noqa: E402
from repository.ingest.sources import documents  # noqa: E402
from repository.search.index import document_of  # noqa: E402

_SCHEMA = ("CREATE VIRTUAL TABLE search_fts USING fts5(title, names, subjects, description, year UNINDEXED, "
           "tokenize = 'porter unicode61 remove_diacritics 2')")


def search_rows(paths: list[Path]) -> list[tuple]:
    registry = default_registry()
    rows = []
    for doc in documents(paths, 1 << 30):
        for c in extract(doc, registry, 1 << 30).candidates:
            d = document_of(c.root)
            rows.append((len(rows) + 1, d.title, d.names, d.subjects, d.description, d.year))
    return rows


def insert_all(path: Path, rows: list[tuple], repeat: int, hashsize: int, automerge: int) -> dict[str, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        conn.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', ?)", (hashsize,))
        conn.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', ?)", (automerge,))
        conn.execute("BEGIN")
        start, longest = time.perf_counter(), 0.0
        for k in range(repeat):
            for i in range(0, len(rows), 500):
                t0 = time.perf_counter()
                conn.executemany("INSERT INTO search_fts (rowid, title, names, subjects, description, year) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", [(r[0] + k * len(rows),) + r[1:] for r in rows[i:i + 500]])
                longest = max(longest, time.perf_counter() - t0)
        inserted = time.perf_counter()
        conn.execute("COMMIT")
        return {"insert_s": inserted - start, "longest_call_s": longest, "commit_s": time.perf_counter() - inserted}
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100000, help="the generated corpus to read (benchmarks/generate.py)")
    ap.add_argument("--files", type=int, default=100, help="how many of its files of 1,000 records")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sizes-mb", default="1,8,16,64")
    ap.add_argument("--automerge", default="4", help="comma-separated FTS5 automerge values to try")
    a = ap.parse_args()
    paths = sorted((OUT / f"corpus-{a.size}").glob("records-*.xml"))[:a.files]
    if not paths:
        raise SystemExit(f"no corpus at {OUT / f'corpus-{a.size}'}: run benchmarks/generate.py --size {a.size}")
    rows = search_rows(paths)
    print(f"{len(rows) * a.repeat:,} documents, {sum(len(''.join(r[1:5])) for r in rows) // len(rows)} "
          "characters each on average")
    for mb in (int(x) for x in a.sizes_mb.split(",")):
        for merge in (int(x) for x in a.automerge.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                r = insert_all(Path(tmp) / "fts.db", rows, a.repeat, mb << 20, merge)
            print(f"hashsize {mb:>3} MB, automerge {merge:>2}: insert {r['insert_s']:6.1f} s, "
                  f"longest call {r['longest_call_s']:.2f} s, commit {r['commit_s']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
