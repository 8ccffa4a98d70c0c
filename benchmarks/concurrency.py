"""GetRecord latency with 32 concurrent clients, gunicorn with 2 sync workers.

    python benchmarks/concurrency.py --size 10000 --db sqlite   (builds the store first)

32 client threads, each with its own http.client connection, ask GetRecord
(oai_dc) for identifiers drawn with a fixed seed from the corpus, until a
fixed number of requests is done (closed loop: a client asks again as soon as
it has its answer). The first 500 requests warm up and are not counted. Both
servers are measured with the page cache as the load and the harvests left
it, and then after both databases were read into it (a store larger than the
memory the load left free answers from the disk, which decides its p99), once
or, with `--warm-pairs K`, K times for medians. The
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

from common import (REPO_ID, Server, Store, median, percentile, read_into_page_cache, serve_granary,  # noqa: E402
                    serve_reference)

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


def run(store: Store, reference_db: Path, manifest: dict, requests: int, tag: str, log=print,
        warm_pairs: int = 1) -> dict:
    """GetRecord with the page cache as the load and harvests left it, then after both
    databases were read into it, `warm_pairs` times. Each pair asks for other identifiers
    (its own seed), so that what an earlier pair read does not decide a later one. With
    several warm pairs, `*_getrecord_warm` holds the median of each timing over them (and
    the sums of requests and errors) and `warm_pairs` every pair."""
    deleted = set(manifest["deleted"])
    ids = [f"bench-{i:07d}" for i in range(manifest["size"])]
    ids = [i for i in ids if i not in deleted]
    out: dict = {}

    def pair(suffix: str, seed: int, state: str) -> dict:
        with serve_reference(reference_db, 2, f"{tag}-c{suffix}") as ref:
            r = hammer(ref, ids, requests, seed)
        with serve_granary(store, 2, f"{tag}-c{suffix}") as gra:
            g = hammer(gra, ids, requests, seed)
        log(f"  GetRecord x{CLIENTS} clients, {state}: reference p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms "
            f"{r['req_per_s']:.0f}/s; granary p50 {g['p50_ms']} ms p99 {g['p99_ms']} ms {g['req_per_s']:.0f}/s "
            f"(errors {g['errors']})")
        return {"reference_getrecord": r, "granary_getrecord": g}

    out.update(pair("", 7, "as loaded"))
    t0 = time.perf_counter()
    n = read_into_page_cache(store, reference_db)
    out["warm_read"] = {"bytes": n, "seconds": round(time.perf_counter() - t0, 1)}
    pairs = [pair(f"_warm{k}", 8 + k, f"after reading {n / 1e9:.1f} GB into the page cache ({k + 1} of {warm_pairs})")
             for k in range(warm_pairs)]
    for server in ("reference_getrecord", "granary_getrecord"):
        figures = [p[server] for p in pairs]
        # Counts add up over the pairs (an error in any pair must show); timings take the median.
        out[f"{server}_warm"] = {key: (sum if key in ("requests", "errors") else median)([f[key] for f in figures])
                                 for key in figures[0]}
    if warm_pairs > 1:
        out["warm_pairs"] = pairs
    return out


def main() -> None:
    from common import standalone_run

    a, manifest, store, _, ref = standalone_run("GetRecord under 32 concurrent clients.", "concurrency",
                                                [("--requests", {"type": int, "default": 10000}),
                                                 ("--warm-pairs", {"type": int, "default": 1})])
    print(json.dumps(run(store, ref, manifest, a.requests, "c", warm_pairs=a.warm_pairs), indent=1))


if __name__ == "__main__":
    main()
