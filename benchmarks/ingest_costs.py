"""Where one `granary ingest` spends a record: staging steps, the writer's statements,
and CPU and I/O by process.

    python benchmarks/ingest_costs.py --size 100000 --db sqlite|postgres [--files 30]

Three measurements over the first FILES files (1,000 records each) of the corpus:
  1. staging, in this process: each step `stage_document` takes, in µs of CPU a record;
  2. the writer: `granary ingest` run in this process into a fresh store, with the
     wall time of each statement the main thread sends (on PostgreSQL that includes
     the server's work on it), in µs a record;
  3. `granary ingest` as a subprocess into a fresh store: user and system CPU, and
     bytes read and written, of the main process and each worker, polled with psutil
     (a worker's last fifth of a second can be missed).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
from common import GRANARY, OUT, Store, drop_store, make_store  # noqa: E402
from generate import generate  # noqa: E402


def staging_costs(paths: list[Path]) -> dict[str, float]:
    from crosswalks.registry import default_registry
    from repository.ingest.extract import extract
    from repository.ingest.sources import documents
    from repository.search.index import document_of

    registry = default_registry()
    mods, dc = registry.format("mods"), registry.format("oai_dc")
    docs = list(documents(paths, 1 << 30))
    costs: Counter[str] = Counter()

    def timed(step: str, fn: Callable, *args):
        t0 = time.process_time()
        out = fn(*args)
        costs[step] += time.process_time() - t0
        return out

    n = 0
    for doc in docs:
        found = timed("parse and find the records", extract, doc, registry, 1 << 30, True)
        for c in found.candidates:
            n += 1
            timed("MODS validation", mods.validate, c.root)
            native = timed("canonical MODS bytes", mods.serialize, c.root)
            timed("hash", lambda b: hashlib.sha256(b).hexdigest(), native)
            out = timed("MODS -> oai_dc crosswalk", registry.convert, c.root, "mods", "oai_dc")
            timed("oai_dc validation", dc.validate, out)
            timed("oai_dc bytes", dc.serialize_built, out)
            timed("search document", document_of, c.root)
    return {step: 1e6 * seconds / n for step, seconds in costs.items()}


def statement_costs(store: Store, paths: list[Path], records: int) -> dict[str, float]:
    """Run the CLI's ingest in this process, timing what the main thread sends."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    spent: Counter[str] = Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany) -> None:
        spent[" ".join(statement.split()[:3])[:60]] += time.perf_counter() - conn.info.pop("bench_t0")

    # PostgreSQL's bulk inserts are COPYs on the driver's cursor, which SQLAlchemy's events
    # do not see: time them where the store calls them.
    from repository.search import index
    from repository.store import bulk, membership, writes

    def timed_insert_many(conn, table, columns, rows) -> None:
        if conn.dialect.name == "sqlite":  # an executemany: the events above time it
            return bulk.insert_many(conn, table, columns, rows)
        t0 = time.perf_counter()
        bulk.insert_many(conn, table, columns, rows)
        spent[f"COPY {table}"] += time.perf_counter() - t0

    for module in (index, membership, writes):
        module.insert_many = timed_insert_many

    os.environ.update(store.env())
    from repository.cli import main as cli
    cli(["init"], standalone_mode=False)
    spent.clear()  # the migrations' statements are not the ingest's
    cli(["ingest", *map(str, paths)], standalone_mode=False)
    return {k: 1e6 * v / records for k, v in spent.most_common(8)}


def process_costs(store: Store, paths: list[Path]) -> list[dict]:
    subprocess.run([GRANARY, "init"], env=store.env(), cwd=store.workdir, check=True, capture_output=True)
    proc = subprocess.Popen([GRANARY, "ingest", *map(str, paths)], env=store.env(), cwd=store.workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root, seen = psutil.Process(proc.pid), {}
    t0 = time.perf_counter()
    while proc.poll() is None:
        for p in [root, *root.children(recursive=True)]:
            try:
                cpu, io = p.cpu_times(), p.io_counters()
                seen[p.pid] = {"process": "main" if p.pid == proc.pid else "worker", "user_s": cpu.user,
                               "system_s": cpu.system, "read_mb": io.read_chars >> 20, "written_mb": io.write_chars >> 20}
            except psutil.Error:
                continue
        time.sleep(0.2)
    if proc.returncode:
        raise RuntimeError(f"granary ingest failed ({proc.returncode})")
    wall = time.perf_counter() - t0
    return [{"wall_s": round(wall, 1)}, *(v for v in seen.values() if v["user_s"] > 0.1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100000, help="the corpus to take files from")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--files", type=int, default=30)
    a = ap.parse_args()
    manifest = generate(a.size, 1, OUT)
    corpus = OUT / f"corpus-{a.size}"
    paths = [corpus / f["path"] for f in manifest["files"][:a.files]]
    records = 1000 * len(paths)
    print("staging, µs of CPU a record (first 3 files, in this process):")
    for step, us in staging_costs(paths[:3]).items():
        print(f"  {us:7.1f}  {step}")
    for label, measure in (("the writer's statements, µs of wall time a record:",
                            lambda store: statement_costs(store, paths, records)),
                           ("CPU and I/O by process of `granary ingest`:",
                            lambda store: process_costs(store, paths))):
        store = make_store(a.db, f"costs-{a.size}")
        try:
            result = measure(store)
        finally:
            drop_store(store)
        print(label)
        if isinstance(result, dict):
            for statement, us in result.items():
                print(f"  {us:7.1f}  {statement}")
        else:
            for row in result:
                print("  " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
