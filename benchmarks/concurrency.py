"""GetRecord latency with 32 concurrent clients, gunicorn with 2 sync workers.

    python benchmarks/concurrency.py --size 10000 --db sqlite   (builds the store first)

32 client threads, each with its own http.client connection, ask GetRecord
(oai_dc) for identifiers drawn with a fixed seed from the corpus, until a
fixed number of requests is done (closed loop: a client asks again as soon as
it has its answer). The first 500 requests warm up and are not counted.
With `--client wrk` (Debian's package wrk) the 32 connections are wrk's, in C
on one thread, for as many seconds as a thousandth of the requests, after 2
seconds not counted: the Python client takes a core's worth of CPU from the
servers it measures on a 2-core machine, wrk a fraction of that. Both
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
import shutil
import subprocess
import sys
import tempfile
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


WRK_SCRIPT = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function init() math.randomseed(%(seed)d); bad = 0 end
function request()
  return wrk.format("GET", "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:%(repo)s:" .. ids[math.random(#ids)])
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, "<GetRecord>", 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("bad") end
  local e = summary.errors
  io.write(string.format("GRANARY_WRK %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    bad + e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def hammer_wrk(server: Server, ids: list[str], requests: int, seed: int = 7) -> dict:
    """As `hammer`, with wrk's 32 connections for requests/1000 seconds (after 2 s not counted)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("--client wrk needs wrk on the PATH (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ids.txt").write_text("\n".join(ids) + "\n")
        script = Path(tmp) / "getrecord.lua"
        script.write_text(WRK_SCRIPT % {"ids": Path(tmp) / "ids.txt", "seed": seed, "repo": REPO_ID})
        url = f"http://127.0.0.1:{server.port}/"
        base = [wrk, "-t1", f"-c{CLIENTS}", "--timeout", "60s", "-s", str(script)]
        subprocess.run([*base, "-d2s", url], check=True, capture_output=True, timeout=120)
        out = subprocess.run([*base, f"-d{max(1, requests // 1000)}s", url], check=True, capture_output=True,
                             text=True, timeout=960).stdout
    [line] = [line for line in out.splitlines() if line.startswith("GRANARY_WRK ")]
    done, micros, errors, p50, p90, p99, most = (int(x) for x in line.split()[1:])
    return {"requests": done, "errors": errors, "seconds": round(micros / 1e6, 2),
            "req_per_s": round(done / (micros / 1e6), 1), "p50_ms": round(p50 / 1000, 2),
            "p90_ms": round(p90 / 1000, 2), "p99_ms": round(p99 / 1000, 2), "max_ms": round(most / 1000, 2)}


CLIENT_KINDS = {"python": hammer, "wrk": hammer_wrk}


def live_ids(manifest: dict) -> list[str]:
    """The local ids of a generated corpus that the load does not withdraw."""
    deleted = set(manifest["deleted"])
    return [i for i in (f"bench-{n:07d}" for n in range(manifest["size"])) if i not in deleted]


def run(store: Store, reference_db: Path, manifest: dict, requests: int, tag: str, log=print,
        warm_pairs: int = 1, client: str = "python") -> dict:
    """GetRecord with the page cache as the load and harvests left it, then after both
    databases were read into it, `warm_pairs` times. Each pair asks for other identifiers
    (its own seed), so that what an earlier pair read does not decide a later one. With
    several warm pairs, `*_getrecord_warm` holds the median of each timing over them (and
    the sums of requests and errors) and `warm_pairs` every pair."""
    ids = live_ids(manifest)
    out: dict = {"client": client}
    drive = CLIENT_KINDS[client]

    def pair(suffix: str, seed: int, state: str) -> dict:
        with serve_reference(reference_db, 2, f"{tag}-c{suffix}") as ref:
            r = drive(ref, ids, requests, seed)
        with serve_granary(store, 2, f"{tag}-c{suffix}") as gra:
            g = drive(gra, ids, requests, seed)
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
                                                 ("--warm-pairs", {"type": int, "default": 1}),
                                                 ("--client", {"choices": sorted(CLIENT_KINDS), "default": "python"})])
    print(json.dumps(run(store, ref, manifest, a.requests, "c", warm_pairs=a.warm_pairs, client=a.client), indent=1))


if __name__ == "__main__":
    main()
