"""Instructions a gunicorn worker executes per GetRecord, counted by callgrind.

    python benchmarks/getrecord_instructions.py --size 100000 --code 7c43786 --code HEAD --reference

On a shared machine, requests/s and worker CPU time move by ±15% from one minute to
the next, which hides a change of that size; instruction counts do not move. Each
server (one sync worker, the commit's own gunicorn settings, its code first on
PYTHONPATH) runs under `valgrind --tool=callgrind` and answers GetRecord (oai_dc) for
seeded random identifiers one at a time, twice: `--small` requests, then `--large`.
The difference of the worker's totals, divided by the difference of the counts, is
the cost of a request without start-up. User space only: the kernel's share (TCP,
reads of the database file) is not counted. Needs valgrind, and a store built by
`concurrency.py --size N` (or `--store DIR` holding granary.db and reference.db).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GUNICORN, OUT, REPO_ID, ROOT, SECRET, wait_ready, free_port, snapshot, stop  # noqa: E402
from concurrency import live_ids  # noqa: E402


def _drive(port: int, ids: list[str], requests: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(requests):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:{REPO_ID}:{rng.choice(ids)}")
        body = conn.getresponse().read()
        conn.close()
        if b"<GetRecord>" not in body:
            raise RuntimeError(f"not a GetRecord answer: {body[:300]!r}")


def worker_instructions(argv: list[str], env: dict[str, str], cwd: Path, ids: list[str], requests: int) -> int:
    """Instructions of the busiest process (the worker) of a server serving `requests` GetRecords."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={tmp}/cg.%p",
               sys.executable, GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "600", *argv]
        with open(Path(tmp) / "server.log", "w") as log:
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            wait_ready(proc, port, "/oai?verb=Identify", 600, Path(tmp) / "server.log")  # valgrind starts slowly
            _drive(port, ids, requests, seed=5)
        finally:
            stop(proc)  # gunicorn's workers exit on SIGTERM, and callgrind writes their totals
        totals = [int(m.group(1)) for f in Path(tmp).glob("cg.*")
                  if (m := re.search(r"^(?:summary|totals): (\d+)", f.read_text(), re.M))]
    if not totals:
        raise RuntimeError("callgrind wrote no totals")
    return max(totals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, help="the store of `concurrency.py --size N --db sqlite`")
    ap.add_argument("--store", type=Path, help="a directory holding granary.db and reference.db")
    ap.add_argument("--code", action="append", default=[], help="a commit to measure (repeatable; default HEAD)")
    ap.add_argument("--reference", action="store_true", help="also the reference server")
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--large", type=int, default=1200)
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind on the PATH")
    if (a.size is None) == (a.store is None):
        raise SystemExit("give --size or --store")
    store = a.store or OUT / "stores" / f"sqlite-{a.size}-concurrency"
    if a.size:
        ids = live_ids(json.loads((OUT / f"corpus-{a.size}" / "manifest.json").read_text()))
    else:
        import sqlite3
        with sqlite3.connect(store / "granary.db") as db:
            ids = [row[0] for row in db.execute("SELECT local_id FROM records WHERE NOT deleted")]
    base_env = dict(os.environ, GRANARY_DATABASE_URL=f"sqlite:///{store / 'granary.db'}", GRANARY_SECRET_KEY=SECRET,
                    GRANARY_PAGE_SIZE="100", GRANARY_REPOSITORY_IDENTIFIER=REPO_ID,
                    REFERENCE_DB=str(store / "reference.db"))
    servers: list[tuple[str, list[str], dict[str, str]]] = []
    for rev in a.code or ["HEAD"]:
        code, sha = snapshot(rev)
        servers.append((f"granary {sha[:12]}", ["--config", "python:repository.gunicorn_conf", "repository.wsgi:app"],
                        dict(base_env, PYTHONPATH=str(code))))
    if a.reference:
        servers.append(("reference", ["--worker-class", "sync", "reference_app:app"],
                        dict(base_env, PYTHONPATH=str(ROOT / "benchmarks"))))
    results = {}
    for name, argv, env in servers:
        small = worker_instructions(argv, env, store, ids, a.small)
        large = worker_instructions(argv, env, store, ids, a.large)
        results[name] = round((large - small) / (a.large - a.small))
        print(f"{name}: {results[name]:,} instructions a GetRecord", flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
