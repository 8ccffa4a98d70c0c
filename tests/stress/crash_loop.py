"""SIGKILL `granary ingest`, `granary harvest` and `granary serve` at many random points.

    python -m tests.stress.crash_loop --db sqlite --runs 10 --records 3000 [--seed 1]
    python -m tests.stress.crash_loop --db postgres --runs 10 --records 3000

Each run, on a fresh store (a SQLite file, or a PostgreSQL schema of the database
named by GRANARY_TEST_POSTGRES_URL):

- ingest: the first file of the corpus is in; `granary ingest` of the whole corpus
  (randomly --jobs 1 or 2) is killed `--kills` times, at a random delay, at a random
  point of its progress bar, or as soon as it holds its write lease; its process
  group, or (as the OOM killer does) its main process alone. After each kill the
  store must hold the batch wholly or not at all, keep the earlier records'
  datestamps, and be consistent (tests/crashkit.py store_problems); after a
  main-only kill no worker may linger. Then a run to completion: exactly the
  corpus, each record once (also as an OAI-PMH harvester sees it), no lease left.
- harvest: `granary harvest` from a second Granary (served in this process, a
  random pause before each page) is killed at a random delay, while it writes a
  page, or while it waits for a random page; the store must hold whole pages and
  the token that continues after them, never fewer pages than before, and never
  rewrite a record; the last run ends with exactly the source's live records.
- serve: `granary serve --workers 2` with all records on one ListRecords page; a
  random encoding (identity, gzip, deflate) over HTTP/1.1 or 1.0; a random share of
  the response read; then its worker, or the whole server, is killed. The client
  must be able to tell a cut response (Content-Length, chunks, compressed stream's
  end), and what it got must begin the right answer; a response that looks whole
  must be the right one.

Prints what happened where, and the counts that must be zero.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import signal
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path


from crosswalks.registry import default_registry
from repository.app import create_app
from repository.db.engine import make_engine
from repository.db.migrate import upgrade
from repository.ingest.pipeline import ingest
from repository.store import writes
from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.crashkit import (
    Command,
    Upstream,
    connection_holder,
    eventually,
    granary_env,
    harvest_standing,
    judge_response,
    lease_pids,
    leases,
    open_request,
    read_to_end,
    read_until,
    serve,
    stamps,
    store_problems,
    write_corpus,
)
from tests.live import serving
from tests.oai import NS, harvest

PER_FILE = 250
LIST_ALL = "/oai?verb=ListRecords&metadataPrefix=mods"


class Figures:
    def __init__(self) -> None:
        self.kills: Counter = Counter()        # scenario -> kills
        self.landed: Counter = Counter()       # (scenario, where) -> kills
        self.checks: Counter = Counter()       # scenario -> consistency checks passed
        self.failures: list[str] = []
        self.duplicates = 0
        self.lingering = 0                     # processes left after killing a main process alone
        self.seconds: Counter = Counter()

    def land(self, scenario: str, where: str) -> None:
        self.kills[scenario] += 1
        self.landed[(scenario, where)] += 1

    def check(self, scenario: str, problems: list[str], what: str) -> None:
        if problems:
            self.failures.append(f"{scenario}: {what}: {problems[:3]}")
            print(f"  FAILED {scenario}: {what}: {problems[:3]}", flush=True)
        else:
            self.checks[scenario] += 1

    def report(self, db: str, runs: int, records: int) -> None:
        print(f"\n== crash loop on {db}: {runs} runs, {records} records ==")
        for scenario in ("ingest", "harvest", "serve"):
            if not self.kills[scenario] and not self.checks[scenario]:
                continue
            print(f"{scenario}: {self.kills[scenario]} kills, {self.checks[scenario]} consistency checks passed, "
                  f"{self.seconds[scenario]:.0f} s")
            for (s, where), n in sorted(self.landed.items()):
                if s == scenario:
                    print(f"    {n:4d}  {where}")
        print(f"duplicates found: {self.duplicates}")
        print(f"processes left behind by main-only kills: {self.lingering}")
        print(f"failures: {len(self.failures)}")
        for f in self.failures:
            print(f"  {f}")


@contextmanager
def fresh_store(db: str, workdir: Path) -> Iterator[str]:
    """The URL of a new, initialised store."""
    with fresh_database(db, workdir, f"crash_{uuid.uuid4().hex[:8]}") as url:
        _init(url)
        yield url


def _init(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    writes.record_creation_time(engine)
    writes.add_set(engine, 60, "crash", "Crash test", None)
    engine.dispose()


def oai_duplicates(url: str, workdir: Path, expected: set[str]) -> tuple[int, list[str]]:
    """Harvest the whole store over OAI-PMH (in-process): duplicates, and what differs from `expected`."""
    settings = make_settings(url, workdir, GRANARY_PAGE_SIZE="1000")
    engine = make_engine(url)
    try:
        client = create_app(settings, engine, default_registry()).test_client()
        items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc")
    finally:
        engine.dispose()
    listed = [i.findtext("oai:identifier", namespaces=NS).rsplit(":", 1)[1] for i in items]
    problems = [] if set(listed) == expected else [f"listed {len(set(listed))} records, expected {len(expected)}"]
    return len(listed) - len(set(listed)), problems


# --- ingest --------------------------------------------------------------------------------

def ingest_run(rng: random.Random, db: str, files: list[Path], ids: list[str], kills: int, full_s: float,
               workdir: Path, fig: Figures) -> None:
    with fresh_store(db, workdir) as url:
        engine = make_engine(url)
        try:
            settings = make_settings(url, workdir)
            ingest(files[:1], settings, engine, default_registry(), frozenset({"crash"}))
            before = stamps(engine)
            env = granary_env(url)
            committed = False
            for _ in range(kills):
                jobs = rng.choice(("1", "2"))
                how = rng.choice(("delay", "progress", "progress", "lease"))
                alone = rng.random() < 0.25
                with Command(["ingest", "--set", "crash", "--jobs", jobs, *map(str, files)], env, workdir) as cmd:
                    if how == "delay":
                        cmd.wait_until(lambda t=time.monotonic() + rng.uniform(0, full_s): time.monotonic() > t)
                    elif how == "progress":
                        target = rng.randint(1, len(ids))
                        cmd.wait_until(lambda: cmd.progress() >= target)
                    else:
                        cmd.wait_until(lambda: cmd.proc.pid in lease_pids(engine), poll=0.001)
                    finished = cmd.proc.poll() is not None
                    progress = cmd.progress()
                    if alone:
                        cmd.kill_main()
                        if not eventually(lambda: not cmd.live_group_members(), timeout=30):
                            fig.lingering += len(cmd.live_group_members())
                    cmd.kill()
                now = stamps(engine)
                left = cmd.proc.pid in lease_pids(engine)
                if finished:
                    where = "finished before the kill"
                elif set(now) == set(ids):
                    where = "after its commit, before it exited"
                elif left and progress == 0:
                    where = "holding its lease, nothing staged yet"
                elif left:
                    where = f"in its transaction, {10 * (progress * 10 // len(ids))}%+ of records staged"
                else:
                    where = "starting up (no lease yet)"
                fig.land("ingest", f"{where} [jobs {jobs}{', main process only' if alone else ''}]")
                if set(now) == set(ids):
                    committed = True
                    problems = [] if {k: now[k] for k in before} == before else ["earlier records' datestamps moved"]
                elif now == before:
                    problems = []
                else:
                    problems = [f"{len(now)} records: neither the batch wholly in nor wholly out"]
                fig.check("ingest", problems + store_problems(engine), "after a kill")
                if committed:
                    break
            with Command(["ingest", "--set", "crash", *map(str, files)], env, workdir) as cmd:
                rc = cmd.wait()
            added = 0 if committed else len(ids) - len(before)
            summary = f"added {added}, updated 0, unchanged {len(ids) - added}, rejected 0"
            after = stamps(engine)
            problems = [] if rc == 0 and summary in cmd.stdout else [f"re-run: exit {rc}, {cmd.stdout[-300:]!r}"]
            problems += [] if sorted(after) == sorted(ids) else [f"{len(after)} records after the re-run"]
            problems += [] if {k: after[k] for k in before} == before else ["earlier records' datestamps moved"]
            problems += [f"leases left: {leases(engine)}"] if leases(engine) else []
            fig.check("ingest", problems + store_problems(engine), "after the re-run")
            dups, listed = oai_duplicates(url, workdir, set(ids))
            fig.duplicates += dups
            fig.check("ingest", listed + ([f"{dups} duplicates"] if dups else []), "a full OAI-PMH harvest")
        finally:
            engine.dispose()


def calibrate_ingest(db: str, files: list[Path], workdir: Path) -> float:
    """Seconds a whole ingest takes (with 2 jobs, the slower to start), so delays span all of it."""
    with fresh_store(db, workdir) as url:
        started = time.monotonic()
        with Command(["ingest", "--jobs", "2", *map(str, files)], granary_env(url), workdir) as cmd:
            assert cmd.wait() == 0, cmd.stderr
        return time.monotonic() - started


# --- harvest -------------------------------------------------------------------------------

def harvest_run(rng: random.Random, db: str, upstream: Upstream, kills: int, full_s: float, workdir: Path,
                fig: Figures) -> None:
    args = ["harvest", upstream.url, "--prefix", "mods", "--retries", "0"]
    with fresh_store(db, workdir) as url:
        engine = make_engine(url)
        env = granary_env(url)
        seen: dict[str, int] = {}
        pages_before = 0
        try:
            for _ in range(kills):
                how = rng.choice(("delay", "delay", "write", "wait"))
                if how == "wait":
                    upstream.gate.hold(rng.randint(1, len(upstream.pages) - pages_before))
                try:
                    with Command(args, env, workdir) as cmd:
                        if how == "delay":
                            cmd.wait_until(lambda t=time.monotonic() + rng.uniform(0, full_s): time.monotonic() > t)
                        elif how == "write":
                            cmd.wait_until(lambda: cmd.proc.pid in lease_pids(engine), poll=0.001)
                        else:
                            cmd.wait_until(upstream.gate.arrived.is_set)
                        finished = cmd.proc.poll() is not None
                        cmd.kill()
                finally:
                    upstream.gate.release()
                pages, problems = harvest_standing(engine, upstream, upstream.url)
                left = cmd.proc.pid in lease_pids(engine)
                where = ("finished before the kill" if finished else
                         "writing a page" if left else "fetching a page, or starting up")
                fig.land("harvest", f"{where} [{how}]")
                if 0 <= pages < pages_before:
                    problems.append(f"{pages} pages held, {pages_before} before the kill")
                now = stamps(engine)
                problems += [f"{k} rewritten" for k in seen if now.get(k) != seen[k]][:3]
                seen = now
                fig.check("harvest", problems + store_problems(engine), f"after a kill ({pages} pages)")
                pages_before = max(pages, pages_before)
                if pages == len(upstream.pages):
                    break
            with Command(args, env, workdir) as cmd:
                rc = cmd.wait()
            pages, problems = harvest_standing(engine, upstream, upstream.url)
            problems += [] if rc == 0 and "complete" in cmd.stdout else [f"re-run: exit {rc} {cmd.stdout[-300:]!r}"]
            now = stamps(engine)
            problems += [] if sorted(now) == sorted(upstream.live) else [f"{len(now)} records, not the source's"]
            problems += [f"{k} rewritten" for k in seen if now.get(k) != seen[k]][:3]
            problems += [f"leases left: {leases(engine)}"] if leases(engine) else []
            fig.check("harvest", problems + store_problems(engine), "after the last run")
            dups, listed = oai_duplicates(url, workdir, upstream.live)
            fig.duplicates += dups
            fig.check("harvest", listed + ([f"{dups} duplicates"] if dups else []), "a full OAI-PMH harvest")
        finally:
            engine.dispose()


# --- serve ---------------------------------------------------------------------------------

class Server:
    def __init__(self, url: str, workdir: Path, page_size: int) -> None:
        self.url, self.workdir, self.page_size = url, workdir, page_size
        self.start()

    def start(self) -> None:
        # One base URL whatever the port: a restarted server answers exactly as before.
        self.cmd, self.port = serve(self.url, self.workdir, GRANARY_PAGE_SIZE=str(self.page_size),
                                    GRANARY_BASE_URL="http://granary.test/oai")

    def stop(self) -> None:
        self.cmd.kill()


def serve_run(rng: random.Random, server: Server, whole: bytes, kills: int, fig: Figures) -> None:
    for _ in range(kills):
        encoding = rng.choice(("identity", "gzip", "deflate"))
        http10 = rng.random() < 0.3
        whole_server = rng.random() < 0.15
        share = rng.choice((0.0, rng.random() * 0.2, rng.random()))
        cmd, port = server.cmd, server.port
        with open_request(port, LIST_ALL, encoding, http10) as sock:
            client_port = sock.getsockname()[1]
            cmd.wait_until(lambda: connection_holder(cmd.pgid, port, client_port) is not None)
            worker = connection_holder(cmd.pgid, port, client_port)
            raw = bytearray()
            read_until(sock, raw, int(share * len(whole) * (0.15 if encoding != "identity" else 1)))
            got_before = len(raw)
            if whole_server:
                cmd.kill()
            else:
                os.kill(worker, signal.SIGKILL)
            ending = read_to_end(sock, raw)
        verdict, _ = judge_response(bytes(raw), whole)
        target = "the whole server" if whole_server else "its worker"
        framing = f"{encoding}, HTTP/1.{0 if http10 else 1}"
        when = "at once" if got_before == 0 else "part-way through reading"
        fig.land("serve", f"{verdict}: {framing}; {target} killed {when}; connection {ending}")
        problems = [] if verdict in ("cut", "whole") else [verdict]
        if problems:
            kept = Path(tempfile.gettempdir()) / f"crash-loop-wrong-{time.time_ns()}.bin"
            kept.write_bytes(bytes(raw))
            problems.append(f"response kept in {kept}")
        fig.check("serve", problems, framing)
        if whole_server:
            server.start()
        else:
            assert eventually(lambda: len(cmd.live_group_members()) == 3, timeout=60), "no worker replaced"


# --- main ----------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--records", type=int, default=3000, help="records of the ingest corpus and the served store")
    ap.add_argument("--kills", type=int, default=3, help="kills of ingest and of harvest per run")
    ap.add_argument("--serve-kills", type=int, default=6, help="responses cut per run")
    ap.add_argument("--upstream-records", type=int, default=400)
    ap.add_argument("--upstream-page", type=int, default=20)
    ap.add_argument("--scenarios", default="ingest,harvest,serve")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the upstream's access log
    rng = random.Random(a.seed)
    scenarios = set(a.scenarios.split(","))
    fig = Figures()
    started = time.monotonic()
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="crash-loop-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        ids = write_corpus(workdir / "corpus", a.records, PER_FILE)
        files = sorted((workdir / "corpus").glob("records-*.xml"))
        full_ingest_s = calibrate_ingest(a.db, files, workdir) if "ingest" in scenarios else 0.0
        print(f"corpus: {a.records} records in {len(files)} files; a whole ingest takes {full_ingest_s:.1f} s",
              flush=True)
        upstream = server = None
        full_harvest_s = 0.0
        if "harvest" in scenarios:
            upstream = Upstream(workdir / "upstream", a.upstream_records, a.upstream_page)
            stack.callback(upstream.engine.dispose)
            upstream.gate.delay = lambda: rng.uniform(0, 0.03)
            upstream.url = stack.enter_context(serving(upstream.gate)) + "/oai"
            t = time.monotonic()
            with fresh_store(a.db, workdir) as url, Command(
                    ["harvest", upstream.url, "--prefix", "mods"], granary_env(url), workdir) as cmd:
                assert cmd.wait() == 0, cmd.stderr
            full_harvest_s = time.monotonic() - t
            print(f"upstream: {len(upstream.live)} live records on {len(upstream.pages)} pages; "
                  f"a whole harvest takes {full_harvest_s:.1f} s", flush=True)
        if "serve" in scenarios:
            serve_url = stack.enter_context(fresh_store(a.db, workdir))
            with Command(["ingest", *map(str, files)], granary_env(serve_url), workdir) as cmd:
                assert cmd.wait() == 0, cmd.stderr
            server = Server(serve_url, workdir / "serve", a.records)
            stack.callback(server.stop)
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{LIST_ALL}", timeout=120) as resp:
                whole = resp.read()
            print(f"serve: one ListRecords page of {len(whole) / 1e6:.1f} MB", flush=True)
        for run in range(1, a.runs + 1):
            t0 = time.monotonic()
            if "ingest" in scenarios:
                t = time.monotonic()
                ingest_run(rng, a.db, files, ids, a.kills, full_ingest_s, workdir, fig)
                fig.seconds["ingest"] += time.monotonic() - t
            if upstream:
                t = time.monotonic()
                harvest_run(rng, a.db, upstream, a.kills, full_harvest_s, workdir, fig)
                fig.seconds["harvest"] += time.monotonic() - t
            if server:
                t = time.monotonic()
                serve_run(rng, server, whole, a.serve_kills, fig)
                fig.seconds["serve"] += time.monotonic() - t
            print(f"run {run}: {time.monotonic() - t0:.0f} s; kills so far {sum(fig.kills.values())}, "
                  f"failures {len(fig.failures)}", flush=True)
    fig.report(a.db, a.runs, a.records)
    print(f"total: {time.monotonic() - started:.0f} s")
    raise SystemExit(1 if fig.failures or fig.duplicates or fig.lingering else 0)


if __name__ == "__main__":
    main()
