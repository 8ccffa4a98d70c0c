"""Crash testing: run `granary` for real, SIGKILL it at a chosen point, check what it left.

Used by tests/test_crashes.py (a few deterministic kill points) and
tests/stress/crash_loop.py (many random ones). The checks are the store's
invariants, read with plain SQL so that they share no code with the writer:
every record has its source row, its disseminations, its set memberships and
its search document, nothing refers to a record that is not there, no local
identifier is held twice.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from crosswalks.registry import default_registry
from repository.store.sets import split_specs, with_ancestors

GRANARY = Path(sys.executable).with_name("granary")
ROOT = Path(__file__).resolve().parents[1]


def granary_env(db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a deployment using `db_url`; no GRANARY_* setting of the caller's shell leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANARY_")}
    env.update({"GRANARY_DATABASE_URL": db_url, "GRANARY_SECRET_KEY": "crash-test-secret",
                "GRANARY_REPOSITORY_IDENTIFIER": "granary.test", "GRANARY_ADMIN_EMAIL": "librarian@granary.test",
                "PYTHONUNBUFFERED": "1", **extra})
    return env


# --- a corpus ------------------------------------------------------------------------------

def write_corpus(directory: Path, size: int, per_file: int, seed: int = 1, start: int = 0) -> list[str]:
    """Records start..start+size-1 of the benchmark corpus (benchmarks/generate.py) as
    modsCollection files of `per_file` records; returns their local identifiers in order."""
    from benchmarks.generate import HEAD, TAIL, Parts, local_id, record  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    parts = Parts()
    ids = []
    for k, lo in enumerate(range(start, start + size, per_file)):
        hi = min(start + size, lo + per_file)
        (directory / f"records-{k:04d}.xml").write_text(
            HEAD + "\n".join(record(parts, seed, i) for i in range(lo, hi)) + TAIL, encoding="utf-8")
        ids += [local_id(i) for i in range(lo, hi)]
    return ids


# --- a command to kill ---------------------------------------------------------------------

class Command:
    """`granary ARGS` in a session of its own, so that killing its process group takes its
    worker processes too. stderr is a pseudo-terminal, so the progress bar is drawn and
    `progress()` can read it; stdout goes to a file (a server's access log could fill a pipe)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))  # tqdm draws nothing at 0 columns
        cwd.mkdir(parents=True, exist_ok=True)
        self._stdout_path = cwd / f"stdout-{time.monotonic_ns()}.txt"
        with open(self._stdout_path, "wb") as out:
            self.proc = subprocess.Popen([str(GRANARY), *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=slave, start_new_session=True)
        os.close(slave)
        self.pgid = self.proc.pid
        self._master = master
        self._stderr = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                data = b""
            if not data:
                break
            self._stderr += data
        os.close(self._master)

    @property
    def stderr(self) -> str:
        return bytes(self._stderr).decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        return self._stdout_path.read_text("utf-8", "replace")

    def progress(self) -> int:
        """The count on the last progress bar drawn (`ingest: 1500 records`), 0 before any."""
        found = re.findall(r": (\d+) records", self.stderr)
        return int(found[-1]) if found else 0

    def wait_until(self, condition: Callable[[], bool], timeout: float = 60, poll: float = 0.005) -> bool:
        """Poll `condition` until it holds (True) or the command has exited (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if self.proc.poll() is not None:
                return condition()
            time.sleep(poll)
        raise AssertionError(f"condition not reached in {timeout} s; stderr: {self.stderr[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the command."""
        with contextlib.suppress(ProcessLookupError):  # the group is already gone
            os.killpg(self.pgid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join(timeout=10)

    def kill_main(self) -> None:
        """SIGKILL the command's own process only (what the OOM killer does), and reap it."""
        with contextlib.suppress(ProcessLookupError):  # it has exited already
            self.proc.kill()
        self.proc.wait()

    def wait(self, timeout: float = 300) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(timeout=10)
        return rc

    def live_group_members(self) -> list[int]:
        return group_members(self.pgid)

    def __enter__(self) -> Command:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def eventually(condition: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def group_members(pgid: int) -> list[int]:
    """Processes of process group `pgid` that are still running (zombies are dead)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # the process exited while we looked
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


# --- the store's invariants ----------------------------------------------------------------

def store_problems(engine: sa.Engine) -> list[str]:
    """Every way the store disagrees with itself; [] when it is consistent."""
    registry = default_registry()
    problems: list[str] = []
    search_sql = ("SELECT rowid FROM search_fts" if engine.dialect.name == "sqlite"
                  else "SELECT record_id FROM search_documents")
    with engine.connect() as conn:
        def q(sql: str) -> list:
            return conn.exec_driver_sql(sql).all()

        recs = {r.id: r for r in q("SELECT id, local_id, native_format, stamp, deleted, set_specs FROM records")}
        dup = q("SELECT local_id, COUNT(*) FROM records GROUP BY local_id HAVING COUNT(*) > 1")
        problems += [f"local identifier {lid} is held {n} times" for lid, n in dup]
        sources = [r[0] for r in q("SELECT record_id FROM record_sources")]
        diss: dict[int, set[str]] = {}
        for rid, prefix in q("SELECT record_id, prefix FROM disseminations"):
            diss.setdefault(rid, set()).add(prefix)
        members: dict[int, set[tuple[str, bool, int]]] = {}
        for rid, spec, direct, stamp in q("SELECT record_id, spec, direct, stamp FROM record_sets"):
            members.setdefault(rid, set()).add((spec, bool(direct), stamp))
        docs = [r[0] for r in q(search_sql)]
        departures = {r[0] for r in q("SELECT record_id FROM set_departures")}
        known_sets = {r[0] for r in q("SELECT spec FROM sets")}
    for table, ids in (("record_sources", sources), ("disseminations", diss), ("record_sets", members),
                       ("search index", docs), ("set_departures", departures)):
        orphans = set(ids) - recs.keys()
        if orphans:
            problems.append(f"{len(orphans)} {table} row(s) of records that do not exist, e.g. {min(orphans)}")
    for name, ids in (("record_sources", sources), ("search index", docs)):
        twice = len(ids) - len(set(ids))
        if twice:
            problems.append(f"{twice} record(s) with more than one {name} row")
    sources_set, docs_set = set(sources), set(docs)
    for rid, r in recs.items():
        if rid not in sources_set:
            problems.append(f"{r.local_id}: no source row")
        expected_diss = set() if r.deleted else set(registry.reachable(r.native_format))
        if diss.get(rid, set()) != expected_diss:
            problems.append(f"{r.local_id}: disseminations {sorted(diss.get(rid, ()))}, "
                            f"expected {sorted(expected_diss)}")
        direct = split_specs(r.set_specs)
        expected_members = {(s, s in direct, r.stamp) for s in with_ancestors(direct)}
        if members.get(rid, set()) != expected_members:
            problems.append(f"{r.local_id}: set rows {sorted(members.get(rid, ()))}, expected {sorted(expected_members)}")
        if direct - known_sets:
            problems.append(f"{r.local_id}: in sets that do not exist: {sorted(direct - known_sets)}")
        if (rid in docs_set) == bool(r.deleted):
            problems.append(f"{r.local_id}: {'a tombstone in' if r.deleted else 'missing from'} the search index")
    return problems


def stamps(engine: sa.Engine) -> dict[str, int]:
    """local_id -> stamp of every record."""
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT local_id, stamp FROM records").all())


def leases(engine: sa.Engine) -> list[tuple[int, int, str]]:
    """(id, started, owner) of every write lease left in the store."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT id, started, owner FROM write_leases ORDER BY id")]


def lease_pids(engine: sa.Engine) -> list[int]:
    """The process ids named by the write leases (owner `host:...:pid`)."""
    return [int(owner.rsplit(":", 1)[1]) for _, _, owner in leases(engine)]


# --- an upstream repository to harvest -----------------------------------------------------

class Gate:
    """WSGI middleware in front of the upstream: counts ListRecords requests, can hold the
    n-th one until released (the harvester then waits with every earlier page written),
    and can delay each one (`delay()` seconds) so that kills land all over a harvest."""

    def __init__(self, app) -> None:
        self.app = app
        self.requests = 0
        self.hold_at: int | None = None
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.delay: Callable[[], float] | None = None
        self._lock = threading.Lock()

    def hold(self, n: int) -> None:
        """Hold the n-th ListRecords request from now on."""
        with self._lock:
            self.hold_at = self.requests + n
        self.arrived.clear()
        self.released.clear()

    def release(self) -> None:
        self.hold_at = None
        self.released.set()

    def __call__(self, environ, start_response):
        if "verb=ListRecords" in environ.get("QUERY_STRING", ""):
            with self._lock:
                self.requests += 1
                held = self.requests == self.hold_at
            if held:
                self.arrived.set()
                self.released.wait(120)
            if self.delay is not None:
                time.sleep(self.delay())
        return self.app(environ, start_response)


class Upstream:
    """Another Granary (SQLite) holding generated records, some withdrawn, with small pages.
    `pages` is its ListRecords (mods) list as a harvester walks it: each page's
    (local identifier, deleted) pairs."""

    def __init__(self, workdir: Path, size: int, page_size: int, withdraw_every: int = 17) -> None:
        from repository.app import create_app  # noqa: PLC0415
        from repository.db.engine import make_engine  # noqa: PLC0415
        from repository.db.migrate import upgrade  # noqa: PLC0415
        from repository.ingest.pipeline import ingest  # noqa: PLC0415
        from repository.store import writes  # noqa: PLC0415
        from tests.conftest import make_settings  # noqa: PLC0415

        workdir.mkdir(parents=True, exist_ok=True)
        self.settings = make_settings(f"sqlite:///{workdir / 'upstream.db'}", workdir,
                                      GRANARY_PAGE_SIZE=str(page_size), GRANARY_BASE_URL="",
                                      GRANARY_REPOSITORY_IDENTIFIER="upstream.test",
                                      GRANARY_SECRET_KEY="upstream-secret")
        self.engine = make_engine(self.settings.database_url)
        upgrade(self.engine)
        writes.record_creation_time(self.engine)
        ids = write_corpus(workdir / "corpus", size, 100)
        ingest(sorted((workdir / "corpus").glob("*.xml")), self.settings, self.engine, default_registry())
        for local in ids[::withdraw_every]:
            writes.delete_record(self.engine, 60, local)
        self.app = create_app(self.settings, self.engine, default_registry())
        self.gate = Gate(self.app)
        self.client = self.app.test_client()
        self.pages = self._walk()
        self.live = {lid for page in self.pages for lid, deleted in page if not deleted}

    def page_after(self, token: str) -> list[tuple[str, bool]]:
        """The page a resumption token of this upstream continues with."""
        return self._page(self.client.get("/oai", query_string={"verb": "ListRecords", "resumptionToken": token}))[0]

    def _walk(self) -> list[list[tuple[str, bool]]]:
        pages = []
        resp = self.client.get("/oai", query_string={"verb": "ListRecords", "metadataPrefix": "mods"})
        while True:
            page, token = self._page(resp)
            pages.append(page)
            if not token:
                return pages
            resp = self.client.get("/oai", query_string={"verb": "ListRecords", "resumptionToken": token})

    @staticmethod
    def _page(resp) -> tuple[list[tuple[str, bool]], str | None]:
        from lxml import etree  # noqa: PLC0415

        from repository.harvest.run import local_id_for  # noqa: PLC0415
        from tests.oai import NS  # noqa: PLC0415

        assert resp.status_code == 200
        root = etree.fromstring(resp.data)
        headers = root.findall("oai:ListRecords/oai:record/oai:header", NS)
        assert headers, resp.data[:1000]
        page = [(local_id_for(h.findtext("oai:identifier", namespaces=NS)), h.get("status") == "deleted")
                for h in headers]
        return page, root.findtext("oai:ListRecords/oai:resumptionToken", namespaces=NS)


def harvest_standing(engine: sa.Engine, upstream: Upstream, base_url: str) -> tuple[int, list[str]]:
    """How many pages of the upstream's list the store holds by its harvest state, and every way
    the records disagree with that: the store must hold exactly the live records of those whole
    pages, and the saved resumption token must continue with the next page."""
    with engine.connect() as conn:
        held = {r[0] for r in conn.exec_driver_sql("SELECT local_id FROM records")}
        state = conn.execute(sa.text("SELECT resumption_token, last_response_date, harvest_started FROM harvest_state "
                                     "WHERE base_url = :u"), {"u": base_url}).first()
    problems = []
    if state is None:
        pages = 0
    elif state.resumption_token is None:
        pages = len(upstream.pages)
        if state.last_response_date is None:
            problems.append("the harvest state has neither a token nor a completed harvest")
    else:
        following = upstream.page_after(state.resumption_token)
        pages = next((k for k, p in enumerate(upstream.pages) if p == following), -1)
        if pages < 1:
            return -1, [f"the saved token continues with no page of the list (it starts {following[:1]})"]
        if state.harvest_started is None:
            problems.append("an interrupted harvest without the date it started")
    expected = {lid for page in upstream.pages[:pages] for lid, deleted in page if not deleted}
    if held != expected:
        problems.append(f"the store holds {len(held)} records, the first {pages} page(s) {len(expected)}: "
                        f"{len(held - expected)} more, {len(expected - held)} missing")
    return pages, problems


# --- a server to kill mid-response ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db_url: str, workdir: Path, workers: int = 2, **env: str) -> tuple[Command, int]:
    """`granary serve` (gunicorn) on a free port, once it answers; returns the command and port."""
    port = free_port()
    cmd = Command(["serve", "--workers", str(workers), "--port", str(port)], granary_env(db_url, **env), workdir)
    try:
        def up() -> bool:
            with contextlib.suppress(OSError):  # not listening yet
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            return False

        assert cmd.wait_until(up, timeout=60, poll=0.05), f"the server did not start: {cmd.stderr}"
        # Every worker booted: a killed one is then told apart from one still starting.
        assert eventually(lambda: len(cmd.live_group_members()) == workers + 1, timeout=60), cmd.stderr
    except BaseException:
        cmd.kill()
        raise
    return cmd, port


def connection_holder(pgid: int, server_port: int, client_port: int) -> int | None:
    """The process of group `pgid` holding the server end of our connection from `client_port`
    (a gunicorn sync worker holds it exactly while it handles the request), or None."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if (int(f[1].rsplit(":", 1)[1], 16) == server_port and int(f[2].rsplit(":", 1)[1], 16) == client_port
                and f[9] != "0"):  # inode 0: a closed connection in TIME_WAIT that used the same port
            inode = f[9]
    if inode is None:
        return None
    for pid in group_members(pgid):
        fd_dir = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(OSError):  # the process exited while we looked
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):  # the descriptor was closed while we looked
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


def open_request(port: int, target: str, accept_encoding: str, http10: bool = False) -> socket.socket:
    """Send a GET by hand. The receive buffer is small, so a large response fills it and its
    worker blocks writing, holding the response half-sent."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    version = "HTTP/1.0" if http10 else "HTTP/1.1"
    sock.sendall(f"GET {target} {version}\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: {accept_encoding}\r\n"
                 "Connection: close\r\n\r\n".encode())
    return sock


def read_until(sock: socket.socket, data: bytearray, size: int) -> None:
    while len(data) < size:
        chunk = sock.recv(65536)
        if not chunk:
            return
        data += chunk


def read_to_end(sock: socket.socket, data: bytearray) -> str:
    """Read until the peer closes; how it closed: "eof" or "reset"."""
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except ConnectionResetError:
        return "reset"
    return "eof"


def split_response(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """The data of a chunked body, and whether it ended with its last (zero-size) chunk."""
    out, pos = bytearray(), 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False
        size = int(body[pos:eol].split(b";")[0], 16)
        if size == 0:
            return bytes(out), body[eol + 2:eol + 4] == b"\r\n"
        start = eol + 2
        out += body[start:start + size]
        if len(body) < start + size + 2:
            return bytes(out), False
        pos = start + size + 2


def same_date(xml: bytes) -> bytes:
    """Two answers to one request differ in their responseDate only: blank its 20 characters
    (YYYY-MM-DDThh:mm:ssZ), also in a response cut short inside them."""
    at = xml.find(b"<responseDate>")
    if at < 0:
        return xml
    at += len(b"<responseDate>")
    return xml[:at] + b"?" * len(xml[at:at + 20]) + xml[at + 20:]


def judge_response(raw: bytes, whole: bytes) -> tuple[str, bytes]:
    """What a client makes of the bytes `raw` it received, where `whole` is the right answer:
    ("cut", document) when it can tell the response is incomplete (short of its Content-Length,
    no last chunk, or a gzip stream without its trailer) and what came begins the right answer;
    ("whole", document) when it is complete and right; ("WRONG: why", document) otherwise."""
    if b"\r\n\r\n" not in raw:  # cut before the end of the header: no client takes that for a response
        return "cut", b""
    status, headers, body = split_response(raw)
    if not status.endswith(" 200 OK"):
        return f"WRONG: status {status!r}", b""
    framing_complete = True
    if "content-length" in headers:
        framing_complete = len(body) == int(headers["content-length"])
        body = body[:int(headers["content-length"])]
    elif headers.get("transfer-encoding") == "chunked":
        body, framing_complete = dechunk(body)
    # else: close-delimited (HTTP/1.0 without a length): the framing cannot tell
    stream_complete = True
    if headers.get("content-encoding") in ("gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if headers["content-encoding"] == "gzip" else zlib.MAX_WBITS
        inflate = zlib.decompressobj(wbits)
        try:
            document = inflate.decompress(body)
        except zlib.error as exc:
            return f"WRONG: the body does not decompress ({exc})", b""
        stream_complete = inflate.eof
    else:
        document = body
    mine, right = same_date(document), same_date(whole)
    if framing_complete and stream_complete:
        return ("whole", document) if mine == right else ("WRONG: complete-looking but different", document)
    if mine != right[:len(mine)]:
        return "WRONG: cut, and not the start of the right answer", document
    return "cut", document
