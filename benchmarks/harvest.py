"""Full and selective harvests of Granary beside the bare reference, one sequential harvester.

    python benchmarks/harvest.py --size 10000 --db sqlite   (builds the store first, via load.py)

Both servers run at once under gunicorn with one sync worker each (Granary via
`granary serve --workers 1`, page size 100); they are harvested one after the
other, never together. The harvester is one `http.client.HTTPConnection` that
reads each response whole, counts `<header` and finds the resumptionToken with a
regex on the tail, so the client costs little next to the server. gunicorn's
sync worker closes the connection after each response, for both servers alike;
http.client reconnects.

Figures per harvest: records, seconds, records/s, MB/s, page latencies (first
page asked 5 times afresh, median; the 5 pages around 90% depth of the walk,
median), and the peak RSS of the gunicorn worker sampled every 50 ms.
"""
from __future__ import annotations

import http.client
import json
import re
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RssSampler, Server, Store, median, serve_granary, serve_reference  # noqa: E402

TOKEN_RE = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")
MAX_SECONDS = 3600  # no harvest runs longer than this


class Harvester:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, query: dict[str, str]) -> tuple[bytes, float]:
        t0 = time.perf_counter()
        self.conn.request("GET", "/oai?" + urllib.parse.urlencode(query))
        resp = self.conn.getresponse()
        data = resp.read()
        dt = time.perf_counter() - t0
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {data[:300]!r}")
        if resp.will_close:
            self.conn.close()
        return data, dt

    def close(self) -> None:
        self.conn.close()


def walk(server: Server, verb: str, prefix: str, extra: dict[str, str] | None = None,
         sample_rss: bool = True) -> dict:
    """Harvest a whole list; page latencies, throughput and worker RSS."""
    h = Harvester(server.port)
    sampler = RssSampler(server.workers[0], interval=0.05).start() if sample_rss else None
    rss_start = sampler._rss() if sampler else 0
    query = {"verb": verb, "metadataPrefix": prefix, **(extra or {})}
    records = nbytes = 0
    lat: list[float] = []
    t0 = time.perf_counter()
    try:
        while True:
            data, dt = h.get(query)
            lat.append(dt)
            nbytes += len(data)
            n = data.count(b"<header")
            if n == 0 and not lat[1:]:
                if b'code="noRecordsMatch"' in data:
                    break
                raise RuntimeError(f"{server.name} {verb}: no records: {data[:400]!r}")
            records += n
            m = TOKEN_RE.search(data, max(0, len(data) - 1024))
            if not m:
                break
            query = {"verb": verb, "resumptionToken": m.group(1).decode()}
            if time.perf_counter() - t0 > MAX_SECONDS:
                raise RuntimeError(f"{server.name} {verb} harvest exceeded {MAX_SECONDS}s")
    finally:
        elapsed = time.perf_counter() - t0
        if sampler:
            sampler.stop()
        h.close()
    i90 = int(0.9 * len(lat))
    window = lat[max(1, i90 - 2): i90 + 3] or lat[-1:]
    return {
        "records": records, "pages": len(lat), "seconds": round(elapsed, 3),
        "records_per_s": round(records / elapsed, 1), "mb_per_s": round(nbytes / elapsed / 1e6, 2),
        "bytes": nbytes, "page_ms_median": round(1000 * median(lat), 3),
        "depth90_ms": round(1000 * median(window), 3),
        "last_tenth_ms": round(1000 * median(lat[i90:] or lat[-1:]), 3),
        "rss_start_mb": round(rss_start / 1e6, 1),
        "rss_peak_mb": round((sampler.peak if sampler else 0) / 1e6, 1),
    }


def first_page_ms(server: Server, query: dict[str, str], repeats: int = 5) -> float:
    h = Harvester(server.port)
    try:
        times = []
        for _ in range(repeats):
            data, dt = h.get(query)
            if b"<header" not in data:
                raise RuntimeError(f"{server.name}: first page of {query} has no records: {data[:300]!r}")
            times.append(dt)
        return round(1000 * median(times), 3)
    finally:
        h.close()


def warm(server: Server, verb: str, prefix: str, pages: int = 20) -> None:
    h = Harvester(server.port)
    query = {"verb": verb, "metadataPrefix": prefix}
    try:
        for _ in range(pages):
            data, _ = h.get(query)
            m = TOKEN_RE.search(data)
            if not m:
                return
            query = {"verb": verb, "resumptionToken": m.group(1).decode()}
    finally:
        h.close()


def run(store: Store, reference_db: Path, manifest: dict, from_datestamp: str, tag: str, log=print) -> dict:
    out: dict = {}
    with serve_reference(reference_db, 1, tag) as ref, serve_granary(store, 1, tag) as gra:
        for server in (ref, gra):
            warm(server, "ListRecords", "oai_dc")
        for verb in ("ListRecords", "ListIdentifiers"):
            r = walk(ref, verb, "oai_dc")
            r["first_page_ms"] = first_page_ms(ref, {"verb": verb, "metadataPrefix": "oai_dc"})
            g = walk(gra, verb, "oai_dc")
            g["first_page_ms"] = first_page_ms(gra, {"verb": verb, "metadataPrefix": "oai_dc"})
            if g["records"] != r["records"]:
                raise RuntimeError(f"{verb}: Granary sent {g['records']} records, the reference {r['records']}")
            key = "list_records" if verb == "ListRecords" else "list_identifiers"
            out[f"reference_{key}"] = r
            out[f"granary_{key}"] = g
            log(f"  {verb} oai_dc: reference {r['records_per_s']:.0f} rec/s {r['mb_per_s']:.1f} MB/s; "
                f"granary {g['records_per_s']:.0f} rec/s {g['mb_per_s']:.1f} MB/s "
                f"(ratio {g['records_per_s'] / r['records_per_s']:.2f}); first page {g['first_page_ms']:.1f} ms, "
                f"90% {g['depth90_ms']:.1f} ms; worker RSS {g['rss_peak_mb']:.0f} MB")
        g = walk(gra, "ListRecords", "mods")
        g["first_page_ms"] = first_page_ms(gra, {"verb": "ListRecords", "metadataPrefix": "mods"})
        out["granary_list_records_mods"] = g
        log(f"  ListRecords mods: granary {g['records_per_s']:.0f} rec/s {g['mb_per_s']:.1f} MB/s; "
            f"worker RSS {g['rss_peak_mb']:.0f} MB")

        spec = manifest["ten_percent_set"]
        q = {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": spec}
        s = walk(gra, "ListRecords", "oai_dc", {"set": spec}, sample_rss=False)
        s["first_page_ms"] = first_page_ms(gra, q)
        s["set"] = spec
        s["share"] = round(s["records"] / max(1, out["granary_list_records"]["records"]), 3)
        out["granary_set"] = s
        q = {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": from_datestamp}
        f = walk(gra, "ListRecords", "oai_dc", {"from": from_datestamp}, sample_rss=False)
        f["first_page_ms"] = first_page_ms(gra, q)
        f["from"] = from_datestamp
        out["granary_from"] = f
        log(f"  selective: set {spec} ({s['records']} records, {100 * s['share']:.1f}%) first page "
            f"{s['first_page_ms']:.1f} ms; from={from_datestamp} ({f['records']} records) first page "
            f"{f['first_page_ms']:.1f} ms")
    return out


def main() -> None:
    from common import standalone_run

    _, manifest, store, loaded, ref = standalone_run("Harvest Granary and the reference side by side.", "harvest")
    print(json.dumps(run(store, ref, manifest, loaded["touch"]["from"], "h"), indent=1))


if __name__ == "__main__":
    main()
