"""Harvest existing stores side by side through gunicorn, alternating, and print medians.

    python benchmarks/harvest_pair.py --store pg postgresql+psycopg://...  [CODE_DIR] \
        --store sqlite sqlite:////path/granary.db [CODE_DIR] --runs 5 --set korea

Each store is served by `granary serve --workers 1` (from CODE_DIR, an exported commit such
as `run_all.py` makes, when given); one sequential harvester walks ListRecords oai_dc,
ListIdentifiers oai_dc and ListRecords mods on every server in turn, then times the first
page of a set, `--runs` times, so that servers measured in the same minute share the
machine's load. Besides wall-clock figures it prints records per CPU second of the worker
and of the PostgreSQL backends serving it (found by their client ports), which a shared
machine disturbs far less. Stores are only read, never built or dropped: build them with
load.py (which keeps its store) or keep a run_all.py store.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402

from sqlalchemy.engine import make_url  # noqa: E402

from common import OUT, PG_BASE, Store, serve_granary  # noqa: E402
from harvest import first_page_ms, walk, warm  # noqa: E402


@dataclass
class CodeStore(Store):
    code: str | None = None

    def env(self, **extra: str) -> dict[str, str]:
        env = super().env(**extra)
        if self.code:
            env["PYTHONPATH"] = self.code
        return env


def serving_processes(worker: int) -> list[psutil.Process]:
    """The gunicorn worker and the PostgreSQL backends of its pooled connections."""
    server_port = make_url(PG_BASE).port or 5432
    ports = [c.laddr.port for c in psutil.Process(worker).net_connections("tcp")
             if c.raddr and c.raddr.port == server_port]
    procs = [psutil.Process(worker)]
    if ports:
        import psycopg
        with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql")) as conn:
            pids = conn.execute("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", (ports,)).fetchall()
        procs += [psutil.Process(pid) for (pid,) in pids]
    return procs


def cpu_seconds(procs: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", nargs="+", action="append", required=True, metavar=("NAME URL", "CODE_DIR"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--set", default="korea", help="the set whose first page is timed ('': none, for stores without sets)")
    a = ap.parse_args()
    stores = []
    for name, url, *code in a.store:
        workdir = OUT / "stores" / f"pair-{name}"
        workdir.mkdir(parents=True, exist_ok=True)
        stores.append((name, CodeStore("postgres" if url.startswith("postgres") else "sqlite", url, workdir,
                                       code=os.path.abspath(code[0]) if code else None)))
    cases = [("ListRecords", "oai_dc"), ("ListIdentifiers", "oai_dc"), ("ListRecords", "mods")]
    figures: dict[tuple[str, str], list[float]] = {}
    for _ in range(a.runs):
        # Servers start afresh for every run: the set's first pages are then the first requests of
        # their shape on the worker's connection, as in harvest.py (PostgreSQL plans a statement
        # afresh for its first executions, before it may settle on a generic plan).
        with ExitStack() as stack:
            servers = [(name, stack.enter_context(serve_granary(store, 1, "pair"))) for name, store in stores]
            for _, server in servers:
                warm(server, "ListRecords", "oai_dc")
            procs = {name: serving_processes(server.workers[0]) for name, server in servers}
            for verb, prefix in cases:
                for name, server in servers:
                    cpu = cpu_seconds(procs[name])
                    r = walk(server, verb, prefix, sample_rss=False)
                    cpu = cpu_seconds(procs[name]) - cpu
                    figures.setdefault((name, f"{verb} {prefix} records/CPU s"), []).append(r["records"] / cpu)
                    figures.setdefault((name, f"{verb} {prefix} records/s"), []).append(r["records_per_s"])
                    figures.setdefault((name, f"{verb} {prefix} MB/s"), []).append(r["mb_per_s"])
            for name, server in (servers if a.set else []):
                for verb in ("ListRecords", "ListIdentifiers"):
                    q = {"verb": verb, "metadataPrefix": "oai_dc", "set": a.set}
                    figures.setdefault((name, f"{verb} set first page ms"), []).append(first_page_ms(server, q))
    names = [name for name, _ in stores]
    print(f"{'median of ' + str(a.runs):40s}" + "".join(f"{n:>14s}" for n in names))
    for figure in dict.fromkeys(f for _, f in figures):
        print(f"{figure:40s}" + "".join(f"{statistics.median(figures[(n, figure)]):14.1f}" for n in names))


if __name__ == "__main__":
    main()
