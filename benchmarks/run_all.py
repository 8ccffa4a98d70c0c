"""Run every benchmark at one size and print the table of the Scale targets.

    /work/venv/bin/python benchmarks/run_all.py --size 10000 [--db sqlite|postgres|both] [--runs 3]
                                                [--harvests 1] [--requests 10000] [--seed 1]

For each database and each run: a fresh store built through the CLI (load.py:
init, sets, ingest, re-ingest, deletions, 1,000 touched records), the reference
table filled from it, the side-by-side harvests (harvest.py; `--harvests K`
repeats them K times on the same store, and the run's harvest figures are
their medians) and GetRecord under 32 clients (concurrency.py: with the page
cache as the load left it, then with both databases read into it, K times
with `--harvests K`, for medians); then the
store is dropped, and the whole corpus is ingested again by one command into a
store of its own. The table shows
the median of the runs; every run's figures are written to
benchmarks/out/results-N.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import concurrency  # noqa: E402
import harvest  # noqa: E402
from common import OUT, REPO_ID, drop_store, make_store, median  # noqa: E402
from generate import generate  # noqa: E402
from load import build, ingest_at_once  # noqa: E402
from reference_app import build as build_reference  # noqa: E402


def _get(d: dict, path: str):
    for part in path.split("."):
        if d is None:
            return None
        d = d.get(part)
    return d


def _ratio(d: dict, a: str, b: str):
    x, y = _get(d, a), _get(d, b)
    return x / y if x is not None and y else None


# (label, how to compute from one run, target text, test, higher is better)
METRICS = [
    ("ingest records/s, one command", lambda r: _get(r, "ingest_at_once.records_per_s"), ">= 3300",
     lambda v: v >= 3300, True),
    ("ingest peak RSS MB, one command", lambda r: _get(r, "ingest_at_once.peak_rss_mb"), "flat", None, False),
    ("ingest records/s, a command per set group", lambda r: _get(r, "load.ingest.records_per_s"), ">= 3300",
     lambda v: v >= 3300, True),
    ("ingest peak RSS MB, per set group", lambda r: _get(r, "load.ingest.peak_rss_mb"), "flat", None, False),
    ("re-ingest records/s", lambda r: _get(r, "load.reingest.records_per_s"), "> ingest",
     None, True),
    ("re-ingest peak RSS MB (one process)", lambda r: _get(r, "load.reingest.peak_rss_mb"), "flat", None, False),
    ("re-ingest kept datestamps", lambda r: 1.0 if _get(r, "load.reingest.stamps_unchanged") and
     _get(r, "load.reingest.records") == _get(r, "load.size") else 0.0, "1 (yes)", lambda v: v == 1.0, True),
    ("deletions/s (one `granary delete --from`)", lambda r: _get(r, "load.delete.per_s"), "-", None, True),
    ("reference ListRecords oai_dc rec/s", lambda r: _get(r, "harvest.reference_list_records.records_per_s"),
     "-", None, True),
    ("Granary ListRecords oai_dc rec/s", lambda r: _get(r, "harvest.granary_list_records.records_per_s"),
     "-", None, True),
    ("  ratio Granary/reference", lambda r: _ratio(r, "harvest.granary_list_records.records_per_s",
                                                   "harvest.reference_list_records.records_per_s"),
     ">= 0.80", lambda v: v >= 0.8, True),
    ("Granary ListRecords oai_dc MB/s", lambda r: _get(r, "harvest.granary_list_records.mb_per_s"), "-", None, True),
    ("reference ListIdentifiers rec/s", lambda r: _get(r, "harvest.reference_list_identifiers.records_per_s"),
     "-", None, True),
    ("Granary ListIdentifiers rec/s", lambda r: _get(r, "harvest.granary_list_identifiers.records_per_s"),
     "-", None, True),
    ("  ratio Granary/reference", lambda r: _ratio(r, "harvest.granary_list_identifiers.records_per_s",
                                                   "harvest.reference_list_identifiers.records_per_s"),
     ">= 0.80", lambda v: v >= 0.8, True),
    ("Granary ListRecords mods MB/s", lambda r: _get(r, "harvest.granary_list_records_mods.mb_per_s"),
     "-", None, True),
    ("  ratio to reference oai_dc MB/s", lambda r: _ratio(r, "harvest.granary_list_records_mods.mb_per_s",
                                                          "harvest.reference_list_records.mb_per_s"),
     ">= 0.80", lambda v: v >= 0.8, True),
    ("first page ms (ListRecords oai_dc)", lambda r: _get(r, "harvest.granary_list_records.first_page_ms"),
     "-", None, False),
    ("page at 90% depth ms", lambda r: _get(r, "harvest.granary_list_records.depth90_ms"), "-", None, False),
    ("  90% / first", lambda r: _ratio(r, "harvest.granary_list_records.depth90_ms",
                                       "harvest.granary_list_records.first_page_ms"),
     "<= 1.2", lambda v: v <= 1.2, False),
    ("set (10%) first page ms", lambda r: _get(r, "harvest.granary_set.first_page_ms"), "< 50",
     lambda v: v < 50, False),
    ("from (last ~1,000 changes) first page ms", lambda r: _get(r, "harvest.granary_from.first_page_ms"), "< 50",
     lambda v: v < 50, False),
    ("worker RSS peak MB, full harvest", lambda r: max(_get(r, f"harvest.granary_{k}.rss_peak_mb") or 0 for k in
                                                       ("list_records", "list_identifiers", "list_records_mods")),
     "< 200, flat", lambda v: v < 200, False),
    ("reference worker RSS MB", lambda r: _get(r, "harvest.reference_list_records.rss_peak_mb"), "-", None, False),
    ("GetRecord p50 ms (32 clients, 2 workers)", lambda r: _get(r, "concurrency.granary_getrecord.p50_ms"), "-",
     None, False),
    ("GetRecord p99 ms, page cache as loaded", lambda r: _get(r, "concurrency.granary_getrecord.p99_ms"), "< 20",
     lambda v: v < 20, False),
    ("GetRecord requests/s", lambda r: _get(r, "concurrency.granary_getrecord.req_per_s"), "-", None, True),
    ("reference GetRecord p99 ms", lambda r: _get(r, "concurrency.reference_getrecord.p99_ms"), "-", None, False),
    ("GetRecord p99 ms, store in the page cache", lambda r: _get(r, "concurrency.granary_getrecord_warm.p99_ms"),
     "< 20", lambda v: v < 20, False),
    ("  reference, in the page cache", lambda r: _get(r, "concurrency.reference_getrecord_warm.p99_ms"), "-",
     None, False),
]


def one_run(db: str, size: int, seed: int, run: int, requests: int, manifest: dict, log,
            harvests: int = 1, keep: bool = False) -> dict:
    store = make_store(db, f"{size}-r{run}")
    try:
        log(f"[{db} run {run + 1}] building the store")
        loaded = build(store, OUT / f"corpus-{size}", manifest, log=log)
        ref = store.workdir / "reference.db"
        t0 = time.perf_counter()
        n = build_reference(store.url, ref, REPO_ID)
        log(f"  reference table: {n} items in {time.perf_counter() - t0:.1f}s")
        hs = []
        for k in range(harvests):
            log(f"[{db} run {run + 1}] harvests ({k + 1} of {harvests})")
            hs.append(harvest.run(store, ref, manifest, loaded["touch"]["from"], f"r{run}h{k}", log=log))
        log(f"[{db} run {run + 1}] GetRecord concurrency")
        c = concurrency.run(store, ref, manifest, requests, f"r{run}", log=log, warm_pairs=harvests)
        log(f"[{db} run {run + 1}] ingest in one command")
        once = ingest_at_once(db, f"{size}-r{run}", OUT / f"corpus-{size}", manifest, log=log)
        return {"load": loaded, "harvests": hs, "concurrency": c, "ingest_at_once": once}
    finally:
        if keep:
            log(f"  kept the store: {store.url}")
        else:
            drop_store(store)


def _figure(fn, run: dict):
    """One run's value of a figure. A run that harvested its store several times gives the
    median over those harvests, each figure (a ratio too) taken within one harvest, where
    Granary and the reference met the same machine minutes."""
    vals = []
    for h in run.get("harvests") or [None]:
        try:
            vals.append(fn({**run, "harvest": h}))
        except (TypeError, KeyError):
            vals.append(None)
    return median(vals)


def summarize(runs_by_db: dict[str, list[dict]]) -> list[dict]:
    rows = []
    for label, fn, target, test, higher in METRICS:
        row = {"figure": label, "target": target}
        for db, runs in runs_by_db.items():
            vals = [_figure(fn, r) for r in runs]
            m = median(vals)
            row[db] = m
            row[f"{db}_runs"] = vals
            row[f"{db}_met"] = None if test is None or m is None else bool(test(m))
        if "sqlite" in runs_by_db and "postgres" in runs_by_db and row.get("sqlite") and row.get("postgres"):
            s, p = row["sqlite"], row["postgres"]
            row["pg_vs_sqlite"] = (s / p) if higher else (p / s)  # >1: PostgreSQL worse by that factor
        rows.append(row)
    return rows


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) < 10:
        return f"{v:.2f}"
    return f"{v:,.0f}"


def print_table(rows: list[dict], dbs: list[str], size: int, runs: int, harvests: int) -> str:
    of = f"median of {runs} run{'s' * (runs > 1)}" + (f" x {harvests} harvests" if harvests > 1 else "")
    head = f"{'figure (' + format(size, ',') + ' records, ' + of + ')':<44} {'target':>12}"
    for db in dbs:
        head += f" {db:>12} {'met':>4}"
    if len(dbs) == 2:
        head += f" {'pg/sqlite':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = f"{r['figure']:<44} {r['target']:>12}"
        for db in dbs:
            met = r.get(f"{db}_met")
            line += f" {_fmt(r.get(db)):>12} {('yes' if met else 'NO') if met is not None else '':>4}"
        if len(dbs) == 2:
            ratio = r.get("pg_vs_sqlite")
            line += f" {_fmt(ratio) if ratio else '-':>10}"
        lines.append(line)
    text = "\n".join(lines)
    print(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description="Run all the Granary benchmarks at one size.")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--harvests", type=int, default=1,
                    help="harvest each run's store, and time GetRecord in the page cache, this many times "
                         "(medians); the load is the costly part at a million")
    ap.add_argument("--requests", type=int, default=10000, help="GetRecord requests per server per run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true",
                    help="keep the last run's stores (e.g. for web_pages.py --reuse after renaming)")
    ap.add_argument("--code", default="HEAD",
                    help="commit to measure, exported to benchmarks/out/code-<sha> ('worktree': the files as they are)")
    a = ap.parse_args()
    if a.code != "worktree" and not os.environ.get("GRANARY_BENCH_CODE"):
        from common import snapshot
        code, sha = snapshot(a.code)
        print(f"measuring commit {sha[:12]} (exported to {code})", flush=True)
        os.environ["GRANARY_BENCH_CODE"] = str(code)
        os.environ["GRANARY_BENCH_COMMIT"] = sha
        os.execv(sys.executable, [sys.executable, *sys.argv])
    dbs = ["sqlite", "postgres"] if a.db == "both" else [a.db]

    def log(msg: str) -> None:
        print(msg, flush=True)

    t0 = time.perf_counter()
    manifest = generate(a.size, a.seed, OUT)
    log(f"corpus-{a.size}: {manifest['bytes'] / 1e6:.0f} MB in {len(manifest['files'])} files, "
        f"{len(manifest['deleted'])} to withdraw, record sizes {manifest['record_bytes_sampled']}")
    runs_by_db: dict[str, list[dict]] = {db: [] for db in dbs}
    out_path = OUT / f"results-{a.size}.json"
    for run in range(a.runs):
        for db in dbs:  # interleaved, so drift in the machine touches both alike
            runs_by_db[db].append(one_run(db, a.size, a.seed, run, a.requests, manifest, log, a.harvests,
                                          keep=a.keep and run == a.runs - 1))
            out_path.write_text(json.dumps({"size": a.size, "partial": True, "runs": runs_by_db}, indent=1))
    rows = summarize(runs_by_db)
    table = print_table(rows, dbs, a.size, a.runs, a.harvests)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    out_path.write_text(json.dumps({
        "size": a.size, "commit": os.environ.get("GRANARY_BENCH_COMMIT", "worktree"), "runs_per_db": a.runs, "harvests_per_run": a.harvests, "seed": a.seed, "dbs": dbs,
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
                    "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "corpus": {k: manifest[k] for k in ("bytes", "record_bytes_sampled", "set_counts")},
        "table": rows, "table_text": table, "runs": runs_by_db,
        "seconds": round(time.perf_counter() - t0, 1)}, indent=1))
    log(f"results: {out_path} ({time.perf_counter() - t0:.0f}s)")


if __name__ == "__main__":
    main()
