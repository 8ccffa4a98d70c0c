"""Crashes: SIGKILL a real `granary` process at chosen points; the store stays whole.

- `granary ingest` writes its whole input in one transaction: killed anywhere, the
  store holds none of it, the records already in keep their datestamps, and the
  re-run adds exactly the input. The lease the dead writer left is cleared by the
  re-run, so harvesters see the new records at once.
- `granary harvest` writes one transaction a page: killed anywhere, the store holds
  whole pages and the state that continues after the last of them; the re-run
  resumes there and ends with exactly the source's records.
- `granary serve`: a worker killed mid-response leaves its client a response it can
  tell is cut short (by Content-Length, chunked framing or the gzip trailer), whose
  bytes are a prefix of the right answer.

The kill points are found from the process's progress bar or the database, not
from timing. tests/stress/crash_loop.py kills at many random points.
"""
from __future__ import annotations

import gzip
import http.client
import io
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from crosswalks.registry import default_registry
from repository.app import create_app
from repository.db.engine import db_now_us, make_engine
from repository.db.migrate import upgrade
from repository.ingest.pipeline import ingest
from repository.db.tables import write_leases
from repository.store import clock, writes
from tests.conftest import make_settings
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
    same_date,
    serve,
    split_response,
    stamps,
    store_problems,
    write_corpus,
)
from tests.live import serving
from tests.oai import NS, harvest

INGEST_RECORDS, INGEST_PER_FILE, ALREADY_IN = 1200, 200, 200


@pytest.fixture(scope="module")
def ingest_corpus(tmp_path_factory) -> tuple[list[Path], list[str]]:
    """1,200 generated MODS records in six files of 200."""
    directory = tmp_path_factory.mktemp("ingest-corpus")
    ids = write_corpus(directory, INGEST_RECORDS, INGEST_PER_FILE)
    return sorted(directory.glob("records-*.xml")), ids


@pytest.fixture
def store(db_url, tmp_path):
    """An initialised store with a set `crash`; its settings and engine."""
    settings = make_settings(db_url, tmp_path, GRANARY_PAGE_SIZE="5000")
    engine = make_engine(db_url)
    upgrade(engine)
    writes.record_creation_time(engine)
    writes.add_set(engine, 60, "crash", "Crash test", None)
    yield settings, engine
    engine.dispose()


def _oai_identifiers(settings, engine) -> list[str]:
    """What a full harvest of the store sees: every identifier, once per time it is listed."""
    client = create_app(settings, engine, default_registry()).test_client()
    items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc")
    return [i.findtext("oai:identifier", namespaces=NS) for i in items]


def test_a_killed_ingest_leaves_nothing_and_the_rerun_completes(store, ingest_corpus, db_url, tmp_path):
    settings, engine = store
    files, ids = ingest_corpus
    ingest(files[:1], settings, engine, default_registry(), frozenset({"crash"}))
    before = stamps(engine)
    assert sorted(before) == ids[:ALREADY_IN]
    env = granary_env(db_url)
    args = ["ingest", "--set", "crash", *map(str, files)]

    # Killed while it holds its write lease, its worker processes starting up.
    with Command([*args, "--jobs", "2"], env, tmp_path) as cmd:
        assert cmd.wait_until(lambda: bool(leases(engine)))
        cmd.kill()
    assert lease_pids(engine) == [cmd.proc.pid], "the dead writer's lease is left behind"
    # Killed half-way through its transaction: 600 records staged, 500 of them written.
    with Command([*args, "--jobs", "1"], env, tmp_path) as cmd:
        assert cmd.wait_until(lambda: cmd.progress() >= INGEST_RECORDS // 2)
        cmd.kill()
    assert stamps(engine) == before, "the killed ingest wrote nothing"
    assert store_problems(engine) == []
    # Until a write clears them, the dead writers' leases hold every list's watermark at the
    # first one's start (or for GRANARY_WRITE_LEASE_TIMEOUT_SECONDS if no write comes).
    with clock.read_view(engine, settings.write_lease_timeout_seconds) as (_, watermark):
        assert watermark == min(started for _, started, _ in leases(engine))

    with Command([*args, "--jobs", "1"], env, tmp_path) as cmd:
        assert cmd.wait() == 0, cmd.stderr
    assert f"added {INGEST_RECORDS - ALREADY_IN}, updated 0, unchanged {ALREADY_IN}, rejected 0" in cmd.stdout
    after = stamps(engine)
    assert sorted(after) == ids
    assert {k: after[k] for k in before} == before, "records already in keep their datestamps"
    assert store_problems(engine) == []
    assert leases(engine) == [], "the re-run cleared the leases of the writers that died"
    listed = _oai_identifiers(settings, engine)
    assert sorted(listed) == [f"oai:granary.test:{i}" for i in ids], "a harvester sees every record, once"


def test_a_write_purges_only_the_leases_of_dead_processes_of_its_host(store):
    """A lease is purged early only when its writer provably died: a process of this host and
    PID namespace that no longer runs. A live writer's lease, or one from another host, stays
    (until its timeout): purging it would let a harvester skip that writer's changes."""
    _, engine = store
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owners = {"dead here": f"{clock._HOST}{dead.pid}", "alive here": f"{clock._HOST}{os.getpid()}",
              "elsewhere": f"another-host:{clock._HOST.split(':')[1]}:{dead.pid}",
              "old format": f"{clock._HOST.split(':')[0]}:{dead.pid}"}
    with engine.begin() as conn:
        for owner in owners.values():
            conn.execute(sa.insert(write_leases).values(started=db_now_us(conn), owner=owner))
    writes.add_set(engine, 60, "another", "Another", None)
    assert sorted(owner for _, _, owner in leases(engine)) == sorted(
        owners[k] for k in ("alive here", "elsewhere", "old format"))


def test_worker_processes_exit_when_ingest_is_killed_alone(tmp_path, ingest_corpus):
    """The OOM killer kills one process, not its group: the staging workers must not linger."""
    db_url = f"sqlite:///{tmp_path / 'granary.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    files, _ = ingest_corpus
    with Command(["ingest", "--jobs", "2", *map(str, files)], granary_env(db_url), tmp_path) as cmd:
        # The main process, multiprocessing's resource tracker and a worker, still staging.
        assert cmd.wait_until(lambda: len(cmd.live_group_members()) >= 3 and cmd.progress() == 0)
        cmd.kill_main()
        assert eventually(lambda: not cmd.live_group_members(), timeout=30), f"processes left behind: {cmd.live_group_members()}"


# --- harvest -------------------------------------------------------------------------------

UPSTREAM_RECORDS, UPSTREAM_PAGE = 150, 10


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """A second Granary: 150 generated records (9 withdrawn), 15 pages, served for real."""
    up = Upstream(tmp_path_factory.mktemp("upstream"), UPSTREAM_RECORDS, UPSTREAM_PAGE)
    with serving(up.gate) as root:
        up.url = f"{root}/oai"
        yield up
    up.engine.dispose()


def test_a_killed_harvest_keeps_whole_pages_and_the_rerun_resumes(upstream, store, db_url, tmp_path):
    _, engine = store
    env = granary_env(db_url)
    args = ["harvest", upstream.url, "--prefix", "mods", "--retries", "0"]
    assert len(upstream.pages) == UPSTREAM_RECORDS // UPSTREAM_PAGE

    # Killed waiting for page 4: pages 1-3 are in, with the token that continues at page 4.
    upstream.gate.hold(4)
    try:
        with Command(args, env, tmp_path) as cmd:
            assert upstream.gate.arrived.wait(60), cmd.stderr
            cmd.kill()
    finally:
        upstream.gate.release()
    assert harvest_standing(engine, upstream, upstream.url) == (3, [])
    first_pages = stamps(engine)
    assert store_problems(engine) == []

    # The re-run resumes; killed as soon as it starts writing a page (its lease is committed).
    with Command(args, env, tmp_path) as cmd:
        assert cmd.wait_until(lambda: cmd.proc.pid in lease_pids(engine), poll=0.001)
        cmd.kill()
    pages, problems = harvest_standing(engine, upstream, upstream.url)
    assert problems == [] and 3 <= pages < len(upstream.pages)
    assert store_problems(engine) == []

    with Command(args, env, tmp_path) as cmd:
        assert cmd.wait() == 0, cmd.stderr
    assert cmd.stdout.startswith(f"pages {len(upstream.pages) - pages}; ") and "complete" in cmd.stdout, \
        "resumed after the last page written"
    assert harvest_standing(engine, upstream, upstream.url) == (len(upstream.pages), [])
    after = stamps(engine)
    assert sorted(after) == sorted(upstream.live), "exactly the source's live records, each once"
    assert {k: after[k] for k in first_pages} == first_pages, "pages written before the kills are not rewritten"
    assert store_problems(engine) == []
    assert leases(engine) == []


# --- serve ---------------------------------------------------------------------------------

LIST_ALL = "/oai?verb=ListRecords&metadataPrefix=mods"


def _send_buffer_max() -> int:
    """The most a TCP send buffer may grow to on this machine (the third figure of
    net.ipv4.tcp_wmem); whatever fits in it is delivered even after its sender dies."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 << 20


SERVED_RECORD_BYTES = 4096  # a served MODS record of the generated corpus is about 5 KB


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`granary serve --workers 2` over enough generated records that one ListRecords page of
    all of them is twice what this kernel's send buffers hold; and that page as a whole
    response. A page the buffers can hold would be delivered whole by the kernel however
    its worker dies."""
    buffer_max = _send_buffer_max()
    size = max(INGEST_RECORDS, -(-2 * buffer_max // SERVED_RECORD_BYTES))
    if size > 15_000:
        pytest.skip(f"send buffers of up to {buffer_max} bytes (net.ipv4.tcp_wmem) would need a page "
                    f"of {size} records to outgrow")
    workdir = tmp_path_factory.mktemp("serve")
    write_corpus(workdir / "corpus", size, 1000)
    db_url = f"sqlite:///{workdir / 'granary.db'}"
    settings = make_settings(db_url, workdir)
    engine = make_engine(db_url)
    upgrade(engine)
    writes.record_creation_time(engine)
    ingest(sorted((workdir / "corpus").glob("records-*.xml")), settings, engine, default_registry())
    engine.dispose()
    cmd, port = serve(db_url, workdir, GRANARY_PAGE_SIZE=str(size))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{LIST_ALL}", timeout=60) as resp:
            whole = resp.read()
        assert whole.count(b"<record>") == size and whole.rstrip().endswith(b"</OAI-PMH>")
        assert len(whole) > 2 * buffer_max, "the page outgrows the send buffers"
        yield cmd, port, whole
    finally:
        cmd.kill()


def _kill_mid_response(cmd, port: int, accept_encoding: str, http10: bool = False) -> bytes:
    """Ask for the page, read its first 64 KB, SIGKILL the worker sending it; all bytes received."""
    with open_request(port, LIST_ALL, accept_encoding, http10) as sock:
        client_port = sock.getsockname()[1]
        assert cmd.wait_until(lambda: connection_holder(cmd.pgid, port, client_port) is not None)
        worker = connection_holder(cmd.pgid, port, client_port)
        assert worker != cmd.pgid, "a worker, not gunicorn's master, handles the request"
        raw = bytearray()
        read_until(sock, raw, 64 * 1024)
        os.kill(worker, signal.SIGKILL)
        read_to_end(sock, raw)
    return bytes(raw)


def test_a_response_cut_by_a_killed_worker_is_seen_as_cut(server):
    """Whatever its framing, a response whose worker is killed half-way is one its client can
    tell is cut, and what came is the start of the right answer."""
    cmd, port, whole = server
    # Sent with a Content-Length: the worker blocks writing the page to a slow reader, so the kill
    # cuts it, and the client (here Python's http.client) knows it got less. (Should the page
    # have gone out whole before the kill landed, it must be right; then try again.)
    for _ in range(3):
        raw = _kill_mid_response(cmd, port, "identity")
        verdict, document = judge_response(raw, whole)
        assert verdict in ("cut", "whole")
        _assert_served_whole_again(port, whole)
        if verdict == "cut":
            break
    assert verdict == "cut", f"a {len(whole)}-byte page went out whole 3 times (tcp_wmem max {_send_buffer_max()})"
    _, headers, body = split_response(raw)
    assert int(headers["content-length"]) == len(whole) > len(body) == len(document)
    with pytest.raises(http.client.IncompleteRead):
        _read_with_http_client(raw)

    # gzip is streamed: in chunks over HTTP/1.1; close-delimited over HTTP/1.0, where only the
    # gzip trailer tells a cut body from a whole one. The compressed page, a fifth of the size, can be
    # sent whole before the kill lands; then it must be right.
    for http10 in (False, True):
        raw = _kill_mid_response(cmd, port, "gzip", http10)
        verdict, _ = judge_response(raw, whole)
        assert verdict in ("cut", "whole")
        _, headers, body = split_response(raw)
        assert headers["content-encoding"] == "gzip" and "content-length" not in headers
        assert ("transfer-encoding" in headers) != http10
        if verdict == "cut" and http10:
            with pytest.raises(EOFError):
                gzip.decompress(body)
        elif verdict == "cut":
            with pytest.raises(http.client.IncompleteRead):
                _read_with_http_client(raw)
        _assert_served_whole_again(port, whole)


def test_the_judge_of_responses_can_fail():
    """judge_response, used above, calls a response WRONG when a client could take it for whole:
    an uncompressed body cut short and ended by closing the connection (no Content-Length, no
    chunks), or any complete-looking body that is not the right answer."""
    whole = (b'<?xml version="1.0"?>\n<OAI-PMH><responseDate>2026-01-01T00:00:00Z</responseDate>'
             b"<ListRecords><record>1</record><record>2</record></ListRecords></OAI-PMH>\n")
    plain = b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n"
    sized = f"HTTP/1.1 200 OK\r\nContent-Length: {len(whole)}\r\n\r\n".encode()
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert judge_response(plain + whole, whole)[0] == "whole"
    assert judge_response(plain + whole[:110], whole)[0].startswith("WRONG")
    assert judge_response(sized + whole[:110], whole)[0] == "cut"
    assert judge_response(chunked + b"6e\r\n" + whole[:110] + b"\r\n", whole)[0] == "cut"
    assert judge_response(sized + whole.replace(b">1<", b">3<"), whole)[0].startswith("WRONG")
    assert judge_response(sized + whole[:50] + b"X" * (len(whole) - 50), whole)[0].startswith("WRONG")


def _assert_served_whole_again(port: int, whole: bytes) -> None:
    """The killed worker is replaced; the next request gets the whole answer."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{LIST_ALL}", timeout=60) as resp:
        assert same_date(resp.read()) == same_date(whole)


def _read_with_http_client(raw: bytes) -> bytes:
    """Read a response as Python's http.client does (urllib and urllib3 check the same way)."""
    class _Sock:
        def makefile(self, *args, **kwargs):
            return io.BytesIO(raw)

    resp = http.client.HTTPResponse(_Sock(), method="GET")
    resp.begin()
    return resp.read()
