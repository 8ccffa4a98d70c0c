"""GetRecord latency with 32 concurrent clients, gunicorn with 2 sync workers.

    python benchmarks/concurrency.py --size 10000 --db sqlite   (builds the store first)

32 client threads, each with its own http.client connection, ask GetRecord
(oai_dc) for identifiers drawn with a fixed seed from the corpus, until a
fixed number of requests is done (closed loop: a client asks again as soon as
it has its answer). The first 500 requests warm up and are not counted. The
reference (same 2 workers) answers the same requests from its table. The
client shares the 2 cores with the servers, so latencies include some client
scheduling; the reference shows how much.
"""
from __future__ import annotations

import http.client
import json
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO_ID, Server, Store, percentile, serve_granary, serve_reference  # noqa: E402

CLIENTS = 32
WARMUP = 500


def hammer(server: Server, ids: list[str], requests: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    plan = [f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:{REPO_ID}:{rng.choice(ids)}"
            for _ in range(requests + WARMUP)]
    lock = threading.Lock()
    state = {"next": 0, "errors": 0}
    lat: list[float] = [0.0] * len(plan)
    deadline = time.monotonic() + 900

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            while time.monotonic() < deadline:
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= len(plan):
                    return
                t0 = time.perf_counter()
                try:
                    conn.request("GET", plan[i])
                    resp = conn.getresponse()
                    data = resp.read()
                    if resp.will_close:
                        conn.close()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    with lock:
                        state["errors"] += 1
                    continue
                lat[i] = time.perf_counter() - t0
                if b"<GetRecord>" not in data and b"<metadata>" not in data:
                    with lock:
                        state["errors"] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=960)
    elapsed = time.perf_counter() - t0
    measured = sorted(x for x in lat[WARMUP:] if x > 0)
    return {"requests": len(measured), "errors": state["errors"], "seconds": round(elapsed, 2),
            "req_per_s": round(len(plan) / elapsed, 1),
            "p50_ms": round(1000 * percentile(measured, 50), 2), "p90_ms": round(1000 * percentile(measured, 90), 2),
            "p99_ms": round(1000 * percentile(measured, 99), 2), "max_ms": round(1000 * measured[-1], 2)}


def run(store: Store, reference_db: Path, manifest: dict, requests: int, tag: str, log=print) -> dict:
    deleted = set(manifest["deleted"])
    ids = [f"bench-{i:07d}" for i in range(manifest["size"])]
    ids = [i for i in ids if i not in deleted]
    out = {}
    with serve_reference(reference_db, 2, tag + "-c") as ref:
        out["reference_getrecord"] = hammer(ref, ids, requests)
    with serve_granary(store, 2, tag + "-c") as gra:
        out["granary_getrecord"] = hammer(gra, ids, requests)
    r, g = out["reference_getrecord"], out["granary_getrecord"]
    log(f"  GetRecord x{CLIENTS} clients: reference p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms {r['req_per_s']:.0f}/s; "
        f"granary p50 {g['p50_ms']} ms p99 {g['p99_ms']} ms {g['req_per_s']:.0f}/s (errors {g['errors']})")
    return out


def main() -> None:
    from common import standalone_run

    a, manifest, store, _, ref = standalone_run("GetRecord under 32 concurrent clients.", "concurrency",
                                                [("--requests", {"type": int, "default": 10000})])
    print(json.dumps(run(store, ref, manifest, a.requests, "c"), indent=1))


if __name__ == "__main__":
    main()
