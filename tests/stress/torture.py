"""The long torture run: no harvester ever misses a change (issue #7).

    python -m tests.stress.torture --db sqlite --seconds 120 --writers 4 --harvesters 4 --workers 3
    python -m tests.stress.torture --db postgres --seconds 120 --writers 4 --harvesters 4 --workers 3

(from the checkout's root, with the project's virtualenv). It serves a fresh
store (a SQLite file in a temporary directory, or a new schema in the
PostgreSQL database GRANARY_TEST_POSTGRES_URL names, dropped afterwards) with
the production server, `granary serve --workers N` (gunicorn), and for
`--seconds` runs:

- writer processes, each with its own engine, that add, update, re-set and
  withdraw records t0..t{pool-1} through the store's write API (half the time
  pausing up to 0.6 s between taking a stamp and committing) and through the
  REST API with a token made by `granary token create`; writer 0 also changes
  the rule of the query-defined set now and then (its members move);
- harvester threads that harvest over HTTP as aggregators do: a full
  ListRecords harvest following resumptionTokens, then incremental harvests
  from a responseDate of the previous one (first page's or last page's), in
  oai_dc and mods, of the whole repository or of one set (explicit, with a
  subset, or query-defined), applying deletions; two of every six start over
  with a full harvest every 40 harvests. Set harvesters are told when records
  leave their set (GRANARY_DELETES_IN_SETS=on).

Then the writers stop, each harvester catches up with two more incremental
harvests, and its copy is compared with the store: identifiers, datestamps,
deleted flags, setSpecs, metadata (canonical bytes) and, for a set, its
membership; and the query-defined set's members must be exactly the live
records its rule matches. It prints the figures and exits 1 if any copy
differs (or anything failed).
The same pieces run for a few seconds in tests/test_torture.py.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from crosswalks.registry import default_registry
from repository.db.engine import make_engine
from repository.db.migrate import upgrade
from repository.db.tables import records
from repository.store import writes
from tests.databases import fresh_database
from tests.torturekit import GRANARY, Writer, differences, harvest_until, harvesters, production_server, \
    rule_disagreements, server_env, set_up_store, store_view, writes_made

LEASE_S = 60
RULE_EVERY = 50  # writer 0 changes the rule of set r every 50 steps


def _write_until(db_url: str, seed: int, pool: int, api_root: str, token: str, deadline: float,
                 results: multiprocessing.Queue) -> None:
    """A writer process: its own engine, changes until the deadline; reports its counts."""
    engine = make_engine(db_url)
    writer = Writer(engine, default_registry(), seed, pool, api_root, token, LEASE_S,
                    rule_every=RULE_EVERY if seed == 0 else 0)
    error = None
    try:
        while time.time() < deadline:
            writer.step()
    except Exception:  # reported to the parent, which fails the run
        error = traceback.format_exc()
    finally:
        engine.dispose()
        results.put((seed, dict(writer.counts), error))


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="granary-torture-") as tmp:
        workdir = Path(tmp)
        with fresh_database(args.db, workdir, "torture") as db_url:
            return _run_on(args, db_url, workdir)


def _run_on(args: argparse.Namespace, db_url: str, workdir: Path) -> int:
    engine = make_engine(db_url)
    upgrade(engine)
    writes.record_creation_time(engine)
    set_up_store(engine, default_registry(), LEASE_S, initial=args.pool // 3)
    env = server_env(db_url, args.page_size)
    token = subprocess.run([str(GRANARY), "token", "create", "--name", "torture", "--scope", "write"], env=env,
                           cwd=workdir, check=True, capture_output=True, text=True).stdout.strip()
    load_before = os.getloadavg()
    errors: list = []
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    writers_done = threading.Event()
    procs: list = []
    harvs: list = []
    counts: Counter = Counter()
    started = time.monotonic()
    writing_s = 0.0
    try:
        with production_server(env, args.workers, workdir / "server.log", workdir) as root:
            harvs = harvesters(f"{root}/oai", args.harvesters)
            threads = [threading.Thread(target=harvest_until, args=(h, writers_done.is_set, errors), daemon=True)
                       for h in harvs]
            for t in threads:
                t.start()
            started = time.monotonic()
            deadline = time.time() + args.seconds
            procs = [ctx.Process(target=_write_until, args=(db_url, seed, args.pool, root, token, deadline, results))
                     for seed in range(args.writers)]
            for p in procs:
                p.start()
            for _ in procs:  # each writer reports once, when it stops
                seed, c, error = results.get(timeout=args.seconds + 600)
                counts.update(c)
                if error:
                    errors.append(f"writer {seed}:\n{error}")
            writing_s = time.monotonic() - started
            writers_done.set()
            for t in threads:
                t.join(timeout=600)
            if any(t.is_alive() for t in threads):
                errors.append("a harvester did not finish within 10 minutes of the last write")
    except queue.Empty:
        errors.append("a writer did not report within 10 minutes of the deadline")
    finally:
        writers_done.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
    return _report(args, engine, counts, harvs, errors, writing_s, time.monotonic() - started, load_before)


def _report(args, engine, counts: Counter, harvs: list, errors: list, writing_s: float, total_s: float,
            load_before) -> int:
    with engine.connect() as conn:
        live, deleted = (conn.execute(sa.select(sa.func.count()).select_from(records)
                                      .where(records.c.deleted.is_(flag))).scalar_one() for flag in (False, True))
    print(f"torture run on {args.db}: {args.writers} writer processes, {args.harvesters} harvesters, "
          f"gunicorn --workers {args.workers}, page size {args.page_size}, pool of {args.pool} identifiers")
    print(f"duration: writing {writing_s:.0f} s, until the harvesters caught up {total_s:.0f} s; load average before "
          f"{load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (2 cores, shared)")
    print(f"writes: {writes_made(counts)}")
    for kind, n in sorted(counts.items()):
        print(f"  {kind}: {n}")
    print(f"records in store: {live + deleted} ({live} live, {deleted} withdrawn)")
    total_diffs = 0
    for h in harvs:
        expected, departed = store_view(engine, h.prefix, h.set_spec)
        wrong = differences(h.copy, expected, departed)
        total_diffs += len(wrong)
        print(f"harvester {h}: {h.full} full + {h.incremental} incremental harvests, {h.requests} requests, "
              f"{h.received} records received; copy {len(h.copy)}, store {len(expected)}"
              f"{f' (+{len(departed)} departed)' if h.set_spec else ''}; differences: {len(wrong)}")
        for line in wrong[:20]:
            print(f"    {line}")
    print(f"harvests: {sum(h.full for h in harvs)} full, {sum(h.incremental for h in harvs)} incremental; "
          f"requests {sum(h.requests for h in harvs)}; differences: {total_diffs}")
    disagreements = rule_disagreements(engine)
    print(f"records whose membership of set r disagrees with its rule: {len(disagreements)}")
    for line in disagreements[:20]:
        print(f"    {line}")
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    engine.dispose()
    return 1 if total_diffs or disagreements or errors or not harvs else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--writers", type=int, default=4, help="writer processes")
    parser.add_argument("--harvesters", type=int, default=4, help="harvester threads")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--pool", type=int, default=300, help="local identifiers the writers choose from")
    parser.add_argument("--page-size", type=int, default=25, help="GRANARY_PAGE_SIZE: records per list page")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
