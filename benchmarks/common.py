"""Shared pieces of the benchmarks: stores, server processes, RSS sampling, statistics.

Every server binds 127.0.0.1 on a free port and is killed in a finally block;
every wait is bounded.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
REPO_ID = "bench.granary.test"  # the repositoryIdentifier of every benchmark store
VENV_BIN = Path(sys.executable).parent
GRANARY = str(VENV_BIN / "granary")
GUNICORN = str(VENV_BIN / "gunicorn")
PG_BASE = os.environ.get("GRANARY_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "benchmark-secret-not-for-production"
PACKAGES = ("repository", "metadata", "crosswalks")

# The code measured: a snapshot of a commit (run_all --snapshot), else the working tree.
CODE = os.environ.get("GRANARY_BENCH_CODE")
if CODE:
    sys.path.insert(0, CODE)
    os.environ["PYTHONPATH"] = CODE + os.pathsep + os.environ.get("PYTHONPATH", "")


def snapshot(rev: str = "HEAD") -> tuple[Path, str]:
    """Export a commit to benchmarks/out/code-<sha>, so edits in the shared tree cannot change a run."""
    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    target = OUT / f"code-{sha[:12]}"
    if not (target / "repository").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    # Bytecode, as `pip install` leaves it: without it every process (each CLI command, each
    # ingest worker) compiles ~90 modules afresh wherever PYTHONDONTWRITEBYTECODE is set.
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(target / p) for p in PACKAGES)], check=True)
    return target, sha


@dataclass
class Store:
    db: str            # sqlite | postgres
    url: str
    workdir: Path
    schema: str | None = None

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"GRANARY_DATABASE_URL": self.url, "GRANARY_SECRET_KEY": SECRET, "GRANARY_PAGE_SIZE": "100",
                    "GRANARY_REPOSITORY_IDENTIFIER": REPO_ID, "PYTHONUNBUFFERED": "1"})
        env.update(extra)
        return env


def standalone_run(description: str, tag: str, extra_args=()) -> tuple:
    """What a benchmark run on its own needs: its arguments, the corpus, a loaded store and
    the reference filled from it. Returns (args, manifest, store, load figures, reference db)."""
    import argparse

    from generate import generate
    from load import build
    from reference_app import build as build_reference

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    for name, kwargs in extra_args:
        ap.add_argument(name, **kwargs)
    a = ap.parse_args()
    manifest = generate(a.size, 1, OUT)
    store = make_store(a.db, f"{a.size}-{tag}")
    loaded = build(store, OUT / f"corpus-{a.size}", manifest)
    ref = store.workdir / "reference.db"
    build_reference(store.url, ref, REPO_ID)
    return a, manifest, store, loaded, ref


def make_store(db: str, tag: str) -> Store:
    workdir = OUT / "stores" / f"{db}-{tag}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    if db == "sqlite":
        return Store(db, f"sqlite:///{workdir / 'granary.db'}", workdir)
    schema = "bench_" + "".join(c if c.isalnum() else "_" for c in tag).lower()
    _pg_exec(f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}")
    url = f"{PG_BASE}?options=" + urllib.parse.quote(f"-csearch_path={schema}", safe="")
    return Store(db, url, workdir, schema)


def drop_store(store: Store) -> None:
    if store.schema:
        _pg_exec(f"DROP SCHEMA IF EXISTS {store.schema} CASCADE")
    shutil.rmtree(store.workdir, ignore_errors=True)


def _pg_exec(*sql: str) -> None:
    import psycopg
    with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        for s in sql:
            conn.execute(s)


def db_size_bytes(store: Store) -> int:
    if store.db == "sqlite":
        return sum(p.stat().st_size for p in store.workdir.glob("granary.db*"))
    import psycopg
    with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = %s AND c.relkind = 'r'", (store.schema,)).fetchone()
        return int(row[0])


def read_into_page_cache(store: Store, *files: Path) -> int:
    """Read the store (and `files`) through the OS page cache; returns the bytes read.

    A server that has run for a while has its store's hot pages in memory, if memory
    allows; a store just loaded may not (its load's journal and the corpus took the
    room). Reading every file once makes the warm case repeatable. PostgreSQL's
    relations are read by pg_prewarm's 'read' mode, which leaves them in the OS cache
    as a table scan would, without growing shared_buffers."""
    paths = list(files)
    if store.db == "sqlite":
        paths += sorted(store.workdir.glob("granary.db*"))
    total = 0
    for path in paths:
        with open(path, "rb", buffering=0) as fh:
            while chunk := fh.read(16 << 20):
                total += len(chunk)
    if store.db == "postgres":
        import psycopg
        with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            blocks = conn.execute(
                "WITH t AS (SELECT c.oid, c.reltoastrelid FROM pg_class c JOIN pg_namespace n "
                "           ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'), "
                "rels AS (SELECT oid FROM t UNION ALL SELECT reltoastrelid FROM t WHERE reltoastrelid <> 0) "
                "SELECT coalesce(sum(pg_prewarm(oid, 'read')), 0) FROM "
                "(SELECT oid FROM rels UNION ALL "
                " SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM rels)) AS everything",
                (store.schema,)).fetchone()[0]
            total += int(blocks) * 8192
    return total


# -- processes ---------------------------------------------------------------------------------------

@dataclass
class Measured:
    wall: float
    peak_rss: int
    returncode: int
    stdout: str
    stderr: str


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Measured:
    """Run a command, sampling the RSS of its whole process tree every 50 ms."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid, include_children=True, interval=0.05).start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"timed out after {timeout}s: {' '.join(cmd)}") from None
    finally:
        sampler.stop()
    return Measured(time.perf_counter() - t0, sampler.peak, proc.returncode, out, err)


class RssSampler:
    """Peak (and samples of) resident memory of a process, optionally with its children."""

    def __init__(self, pid: int, include_children: bool = False, interval: float = 0.1) -> None:
        self.pid, self.children, self.interval = pid, include_children, interval
        self.peak = 0
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        try:
            p = psutil.Process(self.pid)
            rss = p.memory_info().rss
            if self.children:
                for c in p.children(recursive=True):
                    with contextlib.suppress(psutil.Error):  # a child that just exited
                        rss += c.memory_info().rss
            return rss
        except psutil.Error:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self._rss()
            if rss:
                self.samples.append(rss)
                self.peak = max(self.peak, rss)
            self._stop.wait(self.interval)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    log: Path
    workers: list[int] = field(default_factory=list)


def wait_ready(proc: subprocess.Popen, port: int, path: str, timeout: float, log: Path) -> None:
    import http.client
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}:\n{log.read_text()[-2000:]}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} not ready after {timeout}s; see {log}")


def _workers(pid: int, n: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = [c.pid for c in psutil.Process(pid).children()]
        if len(kids) >= n:
            return kids
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn {pid} did not start {n} workers")


@contextmanager
def serve_granary(store: Store, workers: int, tag: str):
    """`granary serve --workers N` on a free port (the production command)."""
    port = free_port()
    log = store.workdir / f"serve-{tag}.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([GRANARY, "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", str(workers)], env=store.env(), cwd=store.workdir,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(proc, port, "/oai?verb=Identify", 60, log)
        yield Server("granary", proc, port, log, _workers(proc.pid, workers))
    finally:
        stop(proc)


@contextmanager
def serve_reference(db_path: Path, workers: int, tag: str):
    """The bare reference app under gunicorn, sync workers, no access log."""
    port = free_port()
    log = db_path.parent / f"reference-{tag}.log"
    env = dict(os.environ, REFERENCE_DB=str(db_path))
    with open(log, "w") as fh:
        proc = subprocess.Popen([GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                                 "--worker-class", "sync", "--chdir", str(ROOT / "benchmarks"),
                                 "reference_app:app"], env=env, cwd=db_path.parent, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(proc, port, "/oai?verb=Identify", 60, log)
        yield Server("reference", proc, port, log, _workers(proc.pid, workers))
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the master and its workers
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


# -- statistics ------------------------------------------------------------------------------------

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def mb(n: float) -> float:
    return n / 1e6
