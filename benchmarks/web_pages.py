"""How fast the web pages render on a big store: record pages, search, set browsing, home.

    python benchmarks/web_pages.py --size 100000 --db sqlite|postgres [--samples 300] [--reuse]

Builds (or with --reuse, reopens) a store of the generated corpus through the
`granary` CLI exactly as benchmarks/load.py does (init, the set hierarchy, one
ingest per group of files; the search index is filled by the ingest itself),
withdraws 1% of the records, then times whole requests through the WSGI app in
process (Flask test client: routing, queries, MODS parsing, template
rendering; no network). Each figure is p50 / p95 / max over `--samples`
requests on random records or queries, after a warm-up.

Search queries are drawn from the corpus itself: one common word (matches a
large share of the corpus: the worst case for ranking, since every match is
scored), two words, a name, a rare word, and the same with set and date
filters and a deep page. Writes benchmarks/out/web-<db>-<size>.json.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GRANARY, OUT, SECRET, Store, make_store, run_measured  # noqa: E402
from generate import generate  # noqa: E402

SUMMARY_RE = re.compile(r"added (\d+), updated (\d+), unchanged (\d+)")


def _granary(store: Store, *args: str) -> float:
    m = run_measured([GRANARY, *args], store.env(), store.workdir, 7200)
    if m.returncode != 0:
        raise RuntimeError(f"granary {' '.join(args[:3])} failed:\n{m.stderr[-3000:]}")
    return m.wall


def build(store: Store, corpus: Path, manifest: dict) -> dict:
    _granary(store, "init")
    for s in sorted(manifest["sets"], key=lambda s: s["spec"].count(":")):
        _granary(store, "sets", "add", s["spec"], s["name"])
    groups: dict[tuple[str, ...], list[str]] = {}
    for f in manifest["files"]:
        groups.setdefault(tuple(f["sets"]), []).append(str(corpus / f["path"]))
    wall = 0.0
    for specs, files in groups.items():
        args = ["ingest", *files]
        for s in specs:
            args += ["--set", s]
        wall += _granary(store, *args)
        print(f"  ingested {'+'.join(specs)} ({wall:.0f}s so far)", flush=True)
    n = manifest["size"]
    return {"ingest_seconds": round(wall, 1), "ingest_records_per_s": round(n / wall, 1)}


def _stats(times: list[float]) -> dict:
    ms = sorted(t * 1000 for t in times)
    return {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 2),
            "max_ms": round(ms[-1], 2), "n": len(ms)}


def measure(store: Store, samples: int, seed: int = 7) -> dict:
    import os
    os.environ.update(store.env())
    from sqlalchemy import text

    from repository.app import create_app
    from repository.config import Settings
    from repository.store import writes

    settings = Settings.from_env(dict(store.env(), GRANARY_SECRET_KEY=SECRET), store.workdir)
    app = create_app(settings)
    engine = app.extensions["granary"].engine
    rng = random.Random(seed + 100)  # independent of the withdrawals' draws
    with engine.connect() as conn:
        max_id = conn.execute(text("SELECT max(id) FROM records")).scalar_one()
        n_live = conn.execute(text("SELECT count(*) FROM records WHERE NOT deleted")).scalar_one()
        deleted = conn.execute(text("SELECT count(*) FROM records WHERE deleted")).scalar_one()
    if deleted == 0:  # withdraw 1%, so tombstones and the index's removals are part of the store
        with engine.connect() as conn:
            ids = random.Random(seed + 1).sample(range(1, max_id + 1), max_id // 100)  # not the measured ones
            locals_ = conn.execute(text(f"SELECT local_id FROM records WHERE id IN ({','.join(map(str, ids))})")).scalars().all()
        t0 = time.perf_counter()
        for local in locals_:
            writes.delete_record(engine, 600, local)
        print(f"  withdrew {len(locals_)} records in {time.perf_counter() - t0:.1f}s", flush=True)
    with engine.connect() as conn:
        ids = rng.sample(range(1, max_id + 1), min(samples * 2, max_id))
        rows = conn.execute(text(f"SELECT local_id, deleted FROM records WHERE id IN ({','.join(map(str, ids))})")).all()
        live = [r.local_id for r in rows if not r.deleted][:samples]
        tombs = [r.local_id for r in conn.execute(text("SELECT local_id FROM records WHERE deleted LIMIT 50")).all()]
        specs = list(conn.execute(text("SELECT spec FROM sets")).scalars())
    client = app.test_client()

    def timed(urls: list[str], status: int = 200) -> dict:
        for u in urls[:5]:  # warm-up
            client.get(u)
        times = []
        for u in urls:
            t0 = time.perf_counter()
            resp = client.get(u)
            body = resp.data
            times.append(time.perf_counter() - t0)
            assert resp.status_code == status, (u, resp.status_code, body[:300])
        return _stats(times)

    # Search vocabulary from the corpus: words from random titles, names from random records.
    from repository.search.query import terms_of
    from repository.web.record_view import record_view
    with engine.connect() as conn:
        xmls = conn.execute(text(
            "SELECT d.xml FROM disseminations d WHERE d.prefix = 'mods' AND d.record_id IN "
            f"({','.join(map(str, rng.sample(range(1, max_id + 1), 400)))})")).scalars().all()
    views = [record_view(x) for x in xmls]
    words = [w for v in views for w in terms_of(v.title) if len(w) > 3]
    counts: dict[str, int] = {}
    for w in words:
        counts[w.lower()] = counts.get(w.lower(), 0) + 1
    common = sorted(counts, key=counts.get, reverse=True)[:20]
    rare = sorted(counts, key=counts.get)[:50]   # the least frequent title words of the sample
    names = [n.name.split(",")[0] for v in views for n in v.names][:200]

    def queries(make) -> list[str]:
        return [make() for _ in range(samples)]

    from urllib.parse import quote_plus as q
    res: dict = {"live_records": n_live, "samples": samples}
    res["record_page"] = timed([f"/records/{q(x, safe='')}" for x in live])
    res["tombstone_410"] = timed([f"/records/{q(x, safe='')}" for x in tombs * (samples // max(len(tombs), 1) + 1)][:samples], 410)
    res["search_common_word"] = timed(queries(lambda: f"/search?q={q(rng.choice(common))}"))
    res["search_two_words"] = timed(queries(lambda: f"/search?q={q(rng.choice(common) + ' ' + rng.choice(words))}"))
    res["search_name"] = timed(queries(lambda: f"/search?q={q(rng.choice(names))}"))
    res["search_rare_word"] = timed(queries(lambda: f"/search?q={q(rng.choice(rare))}"))
    res["search_common_word_set_and_years"] = timed(queries(
        lambda: f"/search?q={q(rng.choice(common))}&set={q(rng.choice(specs))}&from=1950&to=1970"))
    res["search_common_word_page_10"] = timed(queries(lambda: f"/search?q={q(rng.choice(common))}&page=10"))
    res["set_browse_first_page"] = timed(queries(lambda: f"/sets/{q(rng.choice(specs))}"))
    res["home_cached_counts"] = timed(["/"] * samples)
    app.config["GRANARY_WEB_COUNT_TTL"] = 0
    res["home_uncached_counts"] = timed(["/"] * min(samples, 20))
    res["common_words"] = common[:10]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--reuse", action="store_true", help="reuse the store of an earlier run")
    args = ap.parse_args()
    tag = f"web-{args.size}"
    out: dict = {"size": args.size, "db": args.db}
    if args.reuse:
        store = _existing_store(args.db, tag)
    else:
        manifest = generate(args.size, 1, OUT)
        corpus = OUT / f"corpus-{args.size}"
        store = make_store(args.db, tag)
        print(f"building a {args.db} store of {args.size} records ...", flush=True)
        out["build"] = build(store, corpus, manifest)
        print(f"  {out['build']}", flush=True)
    out["pages"] = measure(store, args.samples)
    path = OUT / f"web-{args.db}-{args.size}.json"
    path.write_text(json.dumps(out, indent=2))
    for k, v in out["pages"].items():
        if isinstance(v, dict):
            print(f"{k:36} p50 {v['p50_ms']:8.2f} ms   p95 {v['p95_ms']:8.2f} ms   max {v['max_ms']:8.2f} ms")
    print(f"wrote {path}")


def _existing_store(db: str, tag: str) -> Store:
    import urllib.parse

    from common import PG_BASE
    workdir = OUT / "stores" / f"{db}-{tag}"
    if db == "sqlite":
        return Store(db, f"sqlite:///{workdir / 'granary.db'}", workdir)
    schema = "bench_" + "".join(c if c.isalnum() else "_" for c in tag).lower()
    url = f"{PG_BASE}?options=" + urllib.parse.quote(f"-csearch_path={schema}", safe="")
    return Store(db, url, workdir, schema)


if __name__ == "__main__":
    main()
