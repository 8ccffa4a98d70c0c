"""GetRecord latency with 32 concurrent clients, gunicorn with 2 sync workers.

    python benchmarks/concurrency.py --size 10000 --db sqlite   (builds the store first)

32 client threads, each with its own http.client connection, ask GetRecord
(oai_dc) for identifiers drawn with a fixed seed from the corpus, until a
fixed number of requests is done (closed loop: a client asks again as soon as
it has its answer). The first 500 requests warm up and are not counted. Both
servers are measured twice: with the page cache as the load and the harvests
left it, and after both databases were read into it (a store larger than the
memory the load left free answers from the disk, which decides its p99). The
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

from common import REPO_ID, Server, Store, percentile, read_into_page_cache, serve_granary, serve_reference  # noqa: E402

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
    """GetRecord twice: with the page cache as the load and harvests left it, and after both
    databases were read into it. The warm pair asks for other identifiers (another seed),
    so that what the first pair read does not decide the second."""
    deleted = set(manifest["deleted"])
    ids = [f"bench-{i:07d}" for i in range(manifest["size"])]
    ids = [i for i in ids if i not in deleted]
    out = {}
    for warm, suffix, seed in ((False, "", 7), (True, "_warm", 8)):
        if warm:
            t0 = time.perf_counter()
            n = read_into_page_cache(store, reference_db)
            out["warm_read"] = {"bytes": n, "seconds": round(time.perf_counter() - t0, 1)}
        with serve_reference(reference_db, 2, f"{tag}-c{suffix}") as ref:
            out[f"reference_getrecord{suffix}"] = hammer(ref, ids, requests, seed)
        with serve_granary(store, 2, f"{tag}-c{suffix}") as gra:
            out[f"granary_getrecord{suffix}"] = hammer(gra, ids, requests, seed)
        r, g = out[f"reference_getrecord{suffix}"], out[f"granary_getrecord{suffix}"]
        state = f"after reading {out['warm_read']['bytes'] / 1e9:.1f} GB into the page cache" if warm else "as loaded"
        log(f"  GetRecord x{CLIENTS} clients, {state}: reference p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms "
            f"{r['req_per_s']:.0f}/s; granary p50 {g['p50_ms']} ms p99 {g['p99_ms']} ms {g['req_per_s']:.0f}/s "
            f"(errors {g['errors']})")
    return out


def main() -> None:
    from common import standalone_run

    a, manifest, store, _, ref = standalone_run("GetRecord under 32 concurrent clients.", "concurrency",
                                                [("--requests", {"type": int, "default": 10000})])
    print(json.dumps(run(store, ref, manifest, a.requests, "c"), indent=1))


if __name__ == "__main__":
    main()
