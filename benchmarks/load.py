"""Build a store from a generated corpus through the `granary` CLI, and time it.

    python benchmarks/load.py --size 10000 --db sqlite|postgres [--keep]

Steps, each a subprocess with the store's environment:
  1. `granary init`, then `granary sets add` for the hierarchy (parents first);
  2. ingest: one `granary ingest FILES... --set S...` per group of files sharing
     their sets (wall time, records/s, peak RSS of each process);
  3. re-ingest of the whole corpus directory in one `granary ingest` (every
     record must come back unchanged, and no datestamp may move);
  4. withdrawals of ~2% of the records, listed in a file: one `granary delete --from`;
  5. after a one-second pause, `granary ingest` of 1,000 modified records: the
     "last 1,000 changes" that a `from` harvest must find. `from_datestamp` is
     the first whole second after the deletions.
`ingest_at_once` times one `granary ingest` of the whole corpus into a store of
its own (no sets), the way a collection without sets is loaded.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GRANARY, OUT, Store, db_size_bytes, drop_store, make_store, run_measured  # noqa: E402
from generate import generate  # noqa: E402

SUMMARY_RE = re.compile(r"added (\d+), updated (\d+), unchanged (\d+)")


def _granary(store: Store, *args: str, timeout: float = 3600):
    m = run_measured([GRANARY, *args], store.env(), store.workdir, timeout)
    if m.returncode != 0:
        raise RuntimeError(f"granary {' '.join(args[:3])} ... failed ({m.returncode}):\n{m.stderr[-3000:]}")
    return m


def _counts(text: str) -> tuple[int, int, int]:
    found = SUMMARY_RE.search(text)
    if not found:
        raise RuntimeError(f"no ingest summary in: {text[-500:]}")
    return tuple(int(x) for x in found.groups())  # type: ignore[return-value]


def stamps_digest(store: Store) -> tuple[int, int, int]:
    """(count, sum of stamps, max stamp) of the records: moves if any datestamp moves."""
    from sqlalchemy import create_engine, text
    eng = create_engine(store.url)
    try:
        with eng.connect() as conn:
            n, s, mx = conn.execute(text("SELECT count(*), sum(stamp % 1000000007), max(stamp) FROM records")).one()
            return int(n), int(s or 0), int(mx or 0)
    finally:
        eng.dispose()


def build(store: Store, corpus: Path, manifest: dict, log=print) -> dict:
    res: dict = {"db": store.db, "size": manifest["size"]}
    _granary(store, "init")
    t0 = time.perf_counter()
    for s in sorted(manifest["sets"], key=lambda s: s["spec"].count(":")):
        args = ["sets", "add", s["spec"], s["name"]]
        if s.get("description"):
            args += ["--description", s["description"]]
        _granary(store, *args)
    res["sets_add_seconds"] = round(time.perf_counter() - t0, 2)

    groups: dict[tuple[str, ...], list[str]] = {}
    for f in manifest["files"]:
        groups.setdefault(tuple(f["sets"]), []).append(str(corpus / f["path"]))
    wall = 0.0
    peak = 0
    added = 0
    calls = []
    for specs, files in groups.items():
        args = ["ingest", *files]
        for s in specs:
            args += ["--set", s]
        m = _granary(store, *args)
        a, u, _ = _counts(m.stdout)
        added += a + u
        wall += m.wall
        peak = max(peak, m.peak_rss)
        calls.append({"records": a + u, "seconds": round(m.wall, 2), "peak_rss_mb": round(m.peak_rss / 1e6, 1)})
        log(f"  ingest {'+'.join(specs)}: {a + u} records in {m.wall:.1f}s, peak RSS {m.peak_rss / 1e6:.0f} MB")
    if added != manifest["size"]:
        raise RuntimeError(f"ingested {added} records, expected {manifest['size']}")
    res["ingest"] = {"records": added, "seconds": round(wall, 2), "records_per_s": round(added / wall, 1),
                     "peak_rss_mb": round(peak / 1e6, 1), "processes": len(calls), "calls": calls}
    log(f"  ingest: {added} records in {wall:.1f}s = {added / wall:.0f}/s, peak RSS {peak / 1e6:.0f} MB")

    before = stamps_digest(store)
    m = _granary(store, "ingest", *(str(corpus / f["path"]) for f in manifest["files"]))
    a, u, unchanged = _counts(m.stdout)
    after = stamps_digest(store)
    res["reingest"] = {"records": unchanged, "added": a, "updated": u, "seconds": round(m.wall, 2),
                       "records_per_s": round(manifest["size"] / m.wall, 1), "peak_rss_mb": round(m.peak_rss / 1e6, 1),
                       "stamps_unchanged": before == after}
    log(f"  re-ingest: unchanged {unchanged}, added {a}, updated {u} in {m.wall:.1f}s "
        f"= {manifest['size'] / m.wall:.0f}/s, peak RSS {m.peak_rss / 1e6:.0f} MB, datestamps kept: {before == after}")

    deleted = manifest["deleted"]
    ids_file = store.workdir / "to-delete.txt"
    ids_file.write_text("".join(f"{local}\n" for local in deleted))
    m = _granary(store, "delete", "--from", str(ids_file))
    res["delete"] = {"records": len(deleted), "seconds": round(m.wall, 2), "per_s": round(len(deleted) / m.wall, 1),
                     "peak_rss_mb": round(m.peak_rss / 1e6, 1)}
    log(f"  delete: {len(deleted)} records in one `granary delete --from` in {m.wall:.1f}s "
        f"= {len(deleted) / m.wall:.0f}/s, peak RSS {m.peak_rss / 1e6:.0f} MB")

    # The touch: strictly after every earlier change, in a later whole second.
    time.sleep(1.0 - (time.time() % 1.0) + 0.05)
    from_s = int(time.time())
    m = _granary(store, "ingest", str(corpus / manifest["touch_file"]))
    a, u, unchanged = _counts(m.stdout)
    res["touch"] = {"updated": u, "seconds": round(m.wall, 2),
                    "from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(from_s))}
    log(f"  touch: {u} records updated in {m.wall:.1f}s; from={res['touch']['from']}")
    res["db_bytes"] = db_size_bytes(store)
    return res


def ingest_at_once(db: str, tag: str, corpus: Path, manifest: dict, log=print) -> dict:
    """One `granary ingest` of the whole corpus into an empty store of its own, then dropped.

    The store that the harvests use is loaded one command per group of files that share
    their sets, so each command pays its own start-up and worker spawns; this is the rate
    of a load that is one command."""
    store = make_store(db, f"{tag}-at-once")
    try:
        _granary(store, "init")
        m = _granary(store, "ingest", *(str(corpus / f["path"]) for f in manifest["files"]))
        added, _, _ = _counts(m.stdout)
        if added != manifest["size"]:
            raise RuntimeError(f"one-command ingest added {added} records, expected {manifest['size']}")
        log(f"  ingest in one command: {added} records in {m.wall:.1f}s = {added / m.wall:.0f}/s, "
            f"peak RSS {m.peak_rss / 1e6:.0f} MB")
        return {"records": added, "seconds": round(m.wall, 2), "records_per_s": round(added / m.wall, 1),
                "peak_rss_mb": round(m.peak_rss / 1e6, 1)}
    finally:
        drop_store(store)


def main() -> None:
    ap = argparse.ArgumentParser(description="Build and time a benchmark store.")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tag", default="load", help="names the kept store, so stores of two commits can coexist")
    a = ap.parse_args()
    manifest = generate(a.size, a.seed, OUT)
    store = make_store(a.db, f"{a.size}-{a.tag}")
    res = build(store, OUT / f"corpus-{a.size}", manifest)
    res["ingest_at_once"] = ingest_at_once(a.db, f"{a.size}-{a.tag}", OUT / f"corpus-{a.size}", manifest)
    print(json.dumps(res, indent=1))
    print(f"store kept: {store.url}")


if __name__ == "__main__":
    main()
