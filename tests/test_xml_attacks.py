"""Hostile and broken XML on every path that parses it: refused, bounded, and nothing written.

The paths: `granary ingest` (a file, a zip entry, a saved OAI-PMH response),
the REST API (XML PUT and POST; JSON bodies), `granary import-csv`, `granary
harvest` (from a live local server answering hostile responses) and the
crosswalk workbench (paste and upload). Every attack is data (ATTACKS); every
path is a function that sends a document and returns the refusal exactly as
that path shows it. Each refusal must say what was wrong and where (the file,
URL or record, and the line), and a full dump of the store must be the same
before and after. Whatever an attack points at on the network is a spy server
that must never be asked for anything.

Bounds are shown without clocks: a DOCTYPE is refused before its internal
subset is read (so a billion laughs is never expanded), the peak memory of
the parser under the largest attacks is measured in a subprocess, and a
gigabyte is offered lazily (a sparse file, an endless stream) to each path,
which must refuse it having read at most the limit.

Decisions pinned here:
- Processing instructions are accepted and never acted on: `<?xml-stylesheet?>`
  fetches nothing, and canonicalization drops every PI from what is served.
- Markup in a CSV cell or a JSON value is text: it is escaped, never parsed.
- A declared 8-bit encoding that the bytes do not match (Latin-1 declared,
  UTF-8 sent) cannot be told from the truth and is believed.
"""
from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from werkzeug.test import EnvironBuilder, run_wsgi_app

from crosswalks.registry import Registry, default_registry
from repository import cli
from repository.api.tokens_store import create_token
from repository.app import create_app
from repository.config import Settings
from repository.csvimport.importer import CsvImportError, import_csv
from repository.db.engine import make_engine
from repository.db.migrate import upgrade
from repository.db.tables import disseminations, record_sources, records
from repository.harvest.client import Client, ResponseError
from repository.harvest.run import HarvestOptions, HarvestReport, harvest
from repository.ingest.pipeline import IngestError, ingest
from repository.store import writes
from tests.conftest import BACKENDS, make_settings
from tests.databases import fresh_database
from tests.live import serving
from tests.shared import CORPUS, store_dump
from tests.test_cli import Granary

LIMIT = 1024 * 1024   # GRANARY_MAX_XML_BYTES and GRANARY_MAX_CSV_BYTES here: small, so bounds mean something
GIB = 1024 ** 3
SEED = min(CORPUS.glob("mods/fsu-*.xml"))
SPY = b"{spy}"        # where an attack points on the network; replaced by the spy server's URL


# --- the attacks, as data ---------------------------------------------------------------------

def _laughs(levels: int) -> bytes:
    entities = b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, levels + 1))
    return b'<!DOCTYPE mods [<!ENTITY l0 "lol">' + entities + b"]>"


@dataclass(frozen=True)
class Attack:
    name: str
    prolog: bytes                # before the root element: XML declaration, DOCTYPE
    title: bytes                 # the content of the record's title
    says: str                    # what the refusal must say
    line: int | None = 1         # the line it must name (None: a UTF-16 document, whose lines are not counted)
    encoding: str | None = None  # the whole document re-encoded, as a file saved in it would be

    def document(self, spy: str, wrap: Callable[[bytes], bytes] = lambda r: r) -> bytes:
        doc = self.prolog + wrap(record(self.title))
        doc = doc.replace(SPY, spy.encode())
        return doc.decode("utf-8").encode(self.encoding) if self.encoding else doc

    @property
    def pastable(self) -> bool:
        """Whether a person could paste it (text, not bytes of another encoding)."""
        try:
            (self.prolog + self.title).decode("utf-8")
        except UnicodeDecodeError:
            return False
        return self.encoding is None


DOCTYPE = "DOCTYPE declarations are not accepted (entity expansion is refused)"
ATTACKS = [
    Attack("external-entity-file", b'<!DOCTYPE mods [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;", DOCTYPE),
    Attack("external-entity-network", b'<!DOCTYPE mods [<!ENTITY x SYSTEM "{spy}/entity">]>', b"&x;", DOCTYPE),
    Attack("billion-laughs", _laughs(9), b"&l9;", DOCTYPE),
    Attack("quadratic-blowup", b'<!DOCTYPE mods [<!ENTITY a "' + b"A" * 50_000 + b'">]>', b"&a;" * 20_000,
           DOCTYPE),
    Attack("parameter-entity", b'<!DOCTYPE mods [<!ENTITY % p SYSTEM "{spy}/p.dtd"> %p;]>', b"&leak;", DOCTYPE),
    Attack("doctype-system-file", b'<!DOCTYPE mods SYSTEM "file:///etc/passwd">', b"x", DOCTYPE),
    Attack("doctype-system-network", b'<!DOCTYPE mods SYSTEM "{spy}/mods.dtd">', b"&leak;", DOCTYPE),
    Attack("doctype-on-line-2", b'<?xml version="1.0"?>\n<!DOCTYPE mods [<!ENTITY e "e">]>\n', b"&e;", DOCTYPE, 2),
    Attack("doctype-in-utf-16", b'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE mods [<!ENTITY e "e">]>', b"&e;",
           DOCTYPE, None, "utf-16"),
    Attack("xinclude", b"", b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{spy}/xi" parse="text"/>',
           "XInclude elements are not accepted (nothing is ever included)"),
    Attack("deep-nesting", b"", b"<n>" * 100_000 + b"</n>" * 100_000,
           "elements are nested more than 256 levels deep (the limit)"),
    Attack("invalid-utf-8", b"", b"caf\xe9", "Invalid bytes in character encoding"),
    Attack("control-character", b"", b"bell\x07", "character U+0007 is not allowed in XML 1.0 (a control character)"),
    Attack("control-character-reference", b"", b"&#x1;",
           "the character reference to U+0001 names a character XML 1.0 does not allow"),
    Attack("utf-16-declared-8-bit-sent", b'<?xml version="1.0" encoding="UTF-16"?>', b"x",
           "the XML declaration says encoding UTF-16, but the bytes are 8-bit text"),
    Attack("ascii-declared-utf-8-sent", b'<?xml version="1.0" encoding="US-ASCII"?>', "café".encode(),
           "Invalid bytes in character encoding"),
    Attack("unknown-encoding", b'<?xml version="1.0" encoding="X-MADE-UP"?>', b"x", "Unsupported encoding: X-MADE-UP"),
]


def record(title: bytes) -> bytes:
    return (b'<mods xmlns="http://www.loc.gov/mods/v3"><titleInfo><title>' + title + b"</title></titleInfo>"
            b"<recordInfo><recordIdentifier>hostile-1</recordIdentifier></recordInfo></mods>")


def oai_response(payload: bytes) -> bytes:
    """A one-record ListRecords response, as saved from or served by another repository."""
    return (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2024-05-01T00:00:00Z'
            b'</responseDate><request verb="ListRecords" metadataPrefix="mods">http://upstream.test/oai</request>'
            b"<ListRecords><record><header><identifier>oai:upstream.test:hostile-1</identifier>"
            b"<datestamp>2024-05-01</datestamp></header><metadata>" + payload + b"</metadata></record>"
            b"</ListRecords></OAI-PMH>")


# --- servers and the store --------------------------------------------------------------------

@dataclass
class Spy:
    """A server that answers anything and notes what it was asked: it must never be asked."""

    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def spy() -> Iterator[Spy]:
    found: list[str] = []

    def app(environ, start_response):
        found.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/xml")])
        return [b'<!ENTITY leak "SPY-LEAK">' if environ["PATH_INFO"].endswith(".dtd") else b"SPY-LEAK"]

    with serving(app) as url:
        yield Spy(url, found)


@dataclass
class Upstream:
    """A repository that answers every request with whatever `answer` is set to."""

    url: str
    answer: Callable[[], tuple[list[tuple[str, str]], Iterable[bytes]]] = lambda: ([], [])


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    holder = Upstream("")

    def app(environ, start_response):
        headers, body = holder.answer()
        start_response("200 OK", [("Content-Type", "text/xml"), *headers])
        return body

    with serving(app) as url:
        holder.url = f"{url}/oai"
        yield holder


@dataclass
class Store:
    settings: Settings
    engine: sa.Engine
    registry: Registry
    app: Flask
    auth: dict[str, str]   # the Authorization header of a write token


@pytest.fixture(scope="module", params=BACKENDS)
def store(request, tmp_path_factory) -> Iterator[Store]:
    """One store per backend for the whole module, holding a record, a set and a token: every
    test here refuses, and compares the store before and after for itself."""
    workdir = tmp_path_factory.mktemp("store")
    with fresh_database(request.param, workdir) as url:
        settings = make_settings(url, workdir, GRANARY_MAX_XML_BYTES=str(LIMIT), GRANARY_MAX_CSV_BYTES=str(LIMIT))
        engine = make_engine(url)
        upgrade(engine)
        writes.record_creation_time(engine)
        registry = default_registry()
        writes.add_set(engine, settings.write_lease_timeout_seconds, "maps", "Maps", None)
        ingest([SEED], settings, engine, registry, frozenset({"maps"}))
        token = create_token(engine, "editor", "write")
        yield Store(settings, engine, registry, create_app(settings, engine, registry),
                    {"Authorization": f"Bearer {token}"})
        engine.dispose()


@contextlib.contextmanager
def writes_nothing(store: Store, spy: Spy) -> Iterator[None]:
    """The store is exactly as it was afterwards, and the spy was asked for nothing."""
    before = store_dump(store.engine)
    asked = len(spy.hits)
    yield
    assert store_dump(store.engine) == before, "a refused input changed the store"
    assert spy.hits[asked:] == [], "something was fetched"


# --- the paths --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    text: str          # the error exactly as the path shows it
    line: int | None   # the line it names


@dataclass(frozen=True)
class Ctx:
    store: Store
    spy: Spy
    upstream: Upstream
    tmp: Path


def _ingest_refusal(ctx: Ctx, path: Path, source: str) -> Refusal:
    with pytest.raises(IngestError) as err:
        ingest([path], ctx.store.settings, ctx.store.engine, ctx.store.registry)
    (problem,) = err.value.report.problems
    assert problem.source == source
    return Refusal(str(problem), problem.line)


def via_ingest_file(ctx: Ctx, attack: Attack) -> Refusal:
    path = ctx.tmp / "hostile.xml"
    path.write_bytes(attack.document(ctx.spy.url))
    return _ingest_refusal(ctx, path, str(path))


def via_ingest_zip(ctx: Ctx, attack: Attack) -> Refusal:
    path = ctx.tmp / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("records/hostile.xml", attack.document(ctx.spy.url))
    return _ingest_refusal(ctx, path, f"{path}!records/hostile.xml")


def via_ingest_saved_response(ctx: Ctx, attack: Attack) -> Refusal:
    path = ctx.tmp / "ListRecords.xml"
    path.write_bytes(attack.document(ctx.spy.url, oai_response))
    return _ingest_refusal(ctx, path, str(path))


def _api_refusal(resp, record: str | None) -> Refusal:
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json", resp.data[:500]
    doc = resp.get_json()
    assert doc["type"] == "urn:granary:problem:malformed-body" and doc.get("record") == record
    return Refusal(doc["detail"], doc.get("line"))


def via_api_put(ctx: Ctx, attack: Attack) -> Refusal:
    resp = ctx.store.app.test_client().put("/api/records/hostile-1", data=attack.document(ctx.spy.url),
                                           headers={**ctx.store.auth, "Content-Type": "application/mods+xml"})
    return _api_refusal(resp, "hostile-1")


def via_api_post(ctx: Ctx, attack: Attack) -> Refusal:
    resp = ctx.store.app.test_client().post("/api/records", data=attack.document(ctx.spy.url),
                                            headers={**ctx.store.auth, "Content-Type": "application/xml"})
    return _api_refusal(resp, None)


def _harvest(ctx: Ctx) -> HarvestReport:
    st = ctx.store
    client = Client(ctx.upstream.url, attempts=1, timeout=10, max_bytes=st.settings.max_xml_bytes)
    return harvest(HarvestOptions(ctx.upstream.url, prefix="mods"), st.settings, st.engine, st.registry, client)


def via_harvest(ctx: Ctx, attack: Attack) -> Refusal:
    doc = attack.document(ctx.spy.url, oai_response)
    ctx.upstream.answer = lambda: ([], [doc])
    with pytest.raises(ResponseError) as err:
        _harvest(ctx)
    text = str(err.value)
    assert text.startswith(f"{ctx.upstream.url}?verb=ListRecords&metadataPrefix=mods: "), text
    line = re.search(r"not usable XML: line (\d+): ", text)
    return Refusal(text, int(line.group(1)) if line else None)


def _workbench_refusal(resp) -> Refusal:
    assert resp.status_code == 422, resp.get_data(as_text=True)[-1500:]
    shown = html.unescape(re.search(r'role="alert">(.*?)</p>', resp.get_data(as_text=True), re.S).group(1))
    line = re.search(r" \(line (\d+)\)$", shown)
    return Refusal(shown, int(line.group(1)) if line else None)


def via_workbench_paste(ctx: Ctx, attack: Attack) -> Refusal:
    source = attack.document(ctx.spy.url).decode("utf-8")
    return _workbench_refusal(ctx.store.app.test_client().post(
        "/workbench", data={"source": source, "target": "oai_dc"}, content_type="multipart/form-data"))


def via_workbench_upload(ctx: Ctx, attack: Attack) -> Refusal:
    upload = (io.BytesIO(attack.document(ctx.spy.url)), "hostile.xml")
    return _workbench_refusal(ctx.store.app.test_client().post(
        "/workbench", data={"file": upload, "source": "", "target": "mods"}, content_type="multipart/form-data"))


PATHS = [via_ingest_file, via_ingest_zip, via_ingest_saved_response, via_api_put, via_api_post, via_harvest,
         via_workbench_paste, via_workbench_upload]
CASES = [pytest.param(a, p, id=f"{a.name}-{p.__name__[4:]}") for a in ATTACKS for p in PATHS
         if a.pastable or p is not via_workbench_paste]


@pytest.fixture
def ctx(store, spy, upstream, tmp_path) -> Ctx:
    return Ctx(store, spy, upstream, tmp_path)


@pytest.mark.parametrize("attack, path", CASES)
def test_every_path_refuses_every_attack_naming_what_and_where(ctx, attack, path):
    with writes_nothing(ctx.store, ctx.spy):
        refusal = path(ctx, attack)
    assert attack.says in refusal.text, refusal.text
    assert refusal.line == attack.line, refusal
    assert "root:" not in refusal.text and "SPY-LEAK" not in refusal.text


# --- bounded memory: the parser, at full size, in a process of its own ----------------------

PARSER_PEAK = textwrap.dedent('''
    import json, os, re, resource, sys
    from metadata.errors import XMLInputError
    from metadata.safe_xml import parse_xml

    def laughs(levels):
        entities = b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, levels + 1))
        return b'<!DOCTYPE m [<!ENTITY l0 "lol">' + entities + b"]><m>&l" + str(levels).encode() + b";</m>"

    documents = {
        "billion laughs (10^12 expansions)": lambda: laughs(12),
        "parameter-entity laughs": lambda: b'<!DOCTYPE m [<!ENTITY % a0 "xxxxxxxxxx">'
            + b"".join(b'<!ENTITY %% a%d "%s">' % (i, b"%%a%d;" % (i - 1) * 10) for i in range(1, 10))
            + b"%a9;]><m/>",
        "quadratic blow-up (1 MB x 1,000,000)": lambda: b'<!DOCTYPE m [<!ENTITY a "' + b"A" * 1_000_000 + b'">]><m>'
            + b"&a;" * 1_000_000 + b"</m>",
        "1,000,000 nested elements": lambda: b"<n>" * 1_000_000 + b"</n>" * 1_000_000,
        "control: 1,000,000 elements, accepted": lambda: b"<m>" + b"<n>x</n>" * 1_000_000 + b"</m>",
    }

    LINUX = os.path.exists("/proc/self/clear_refs")

    def reset_peak():
        # On Linux ru_maxrss carries the peak of the process that spawned this one (a big
        # test worker) across exec; clear_refs starts the peak (VmHWM) again from here.
        if LINUX:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")

    def peak_mib():
        if LINUX:
            with open("/proc/self/status") as fh:
                return int(re.search(r"VmHWM:\\s+(\\d+)", fh.read()).group(1)) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # bytes, on macOS and the BSDs

    if len(sys.argv) == 1:
        print(json.dumps(list(documents)))
    else:
        name = sys.argv[1]
        data = documents[name]()
        reset_peak()
        before = peak_mib()
        try:
            tree = parse_xml(data, name)
            said = "accepted"
        except XMLInputError as exc:
            said = exc.message
        print(json.dumps({"said": said, "grown_mib": peak_mib() - before}))
''')


def _parse_in_a_process_of_its_own(*args: str) -> object:
    run = subprocess.run([sys.executable, "-c", PARSER_PEAK, *args], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, f"the measuring process failed:\n{run.stderr[-3000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])  # its answer is its last line


def test_the_parser_refuses_full_size_attacks_in_little_memory():
    """The peak resident memory (libxml2's allocations included, which tracemalloc does not
    see) is measured around each parse, each in a fresh process (a peak is per process); the
    control shows that the measure sees a parse that does build a tree."""
    said, grown = {}, {}
    for name in _parse_in_a_process_of_its_own():
        result = _parse_in_a_process_of_its_own(name)
        said[name], grown[name] = result["said"], result["grown_mib"]
    result = {"said": said, "grown_mib": grown}
    control = "control: 1,000,000 elements, accepted"
    assert said.pop(control) == "accepted" and grown.pop(control) > 16, result
    assert said.pop("1,000,000 nested elements").startswith("not well-formed XML: elements are nested more than 256")
    assert set(said.values()) == {DOCTYPE}, said
    assert max(grown.values()) < 8, grown


# --- a gigabyte, offered lazily to every path ----------------------------------------------------

class Endless(io.RawIOBase):
    """`size` bytes made on demand (`head`, then spaces): a request body that is never held.
    Seekable so that a test client can take its length; `delivered` counts what was read."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head, self.size, self.pos, self.delivered = head, size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        chunk = self.head[self.pos:self.pos + n]
        buffer[:n] = chunk + b" " * (n - len(chunk))
        self.pos += n
        self.delivered += n
        return n


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python allocations inside the block, in bytes (appended on exit)."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


# A chunked body: no length to refuse it by, so it is offered at 64 times the limit: reading it
# whole would show, without costing a gigabyte if the bound ever went.
CHUNKED = 64 * LIMIT


def _chunked(app: Flask, method: str, path: str, content_type: str, body: Endless,
             headers: dict[str, str] | None = None) -> tuple[str, str]:
    """Send `body` as a chunked request (no Content-Length), as gunicorn hands it to the app."""
    environ = EnvironBuilder(path=path, method=method, headers={"Content-Type": content_type, **(headers or {})}
                             ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BufferedReader(body)
    environ["wsgi.input_terminated"] = True
    chunks, status, _ = run_wsgi_app(app, environ, buffered=True)
    return status, b"".join(chunks).decode("utf-8")


def test_ingest_refuses_a_gigabyte_file_by_its_size_before_reading(ctx):
    sparse = ctx.tmp / "huge.xml"
    with sparse.open("wb") as fh:
        fh.truncate(GIB)   # a hole: no disk, no memory
    with writes_nothing(ctx.store, ctx.spy), peak_memory() as peak:
        refusal = _ingest_refusal(ctx, sparse, str(sparse))
    assert refusal.text == f"{sparse}: 1,073,741,824 bytes, over the limit of 1,048,576"
    assert peak[0] < LIMIT, "nothing of it was read"


def test_ingest_reads_no_further_than_the_limit_when_the_size_is_unknown(ctx):
    """A pipe (or a device, or a file that grows) has no size to refuse it by. The writer offers
    16 times the limit, so that reading it whole would show without costing a gigabyte."""
    pipe = ctx.tmp / "pipe.xml"
    os.mkfifo(pipe)

    def offer() -> None:
        with contextlib.suppress(BrokenPipeError), pipe.open("wb") as fh:
            for _ in range(16 * LIMIT // 65536):
                fh.write(b" " * 65536)

    threading.Thread(target=offer, daemon=True).start()
    with writes_nothing(ctx.store, ctx.spy), peak_memory() as peak:
        refusal = _ingest_refusal(ctx, pipe, str(pipe))
    assert refusal.text == f"{pipe}: over the limit of 1,048,576 bytes"
    assert peak[0] < 3 * LIMIT


def _lying_zip(path: Path, entry: bytes, claimed: int) -> None:
    """A zip whose headers (local and central) claim the entry is `claimed` bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("records/hostile.xml", entry)
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        data[at + offset:at + offset + 4] = claimed.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_ingest_refuses_zip_entries_too_large_or_lying_about_their_size(ctx):
    honest = ctx.tmp / "honest.zip"
    with zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("records/hostile.xml", b"<a>" + b" " * (8 * LIMIT) + b"</a>")
    lying = ctx.tmp / "lying.zip"
    _lying_zip(lying, b"<a>" + b" " * (8 * LIMIT) + b"</a>", 1000)
    with writes_nothing(ctx.store, ctx.spy), peak_memory() as peak:
        too_large = _ingest_refusal(ctx, honest, f"{honest}!records/hostile.xml")
        lie = _ingest_refusal(ctx, lying, f"{lying}!records/hostile.xml")
    assert too_large.text.endswith("!records/hostile.xml: 8,388,615 bytes, over the limit of 1,048,576")
    assert lie.text.endswith("!records/hostile.xml: cannot be read from the archive (Bad CRC-32 for file "
                             "'records/hostile.xml')")
    assert peak[0] < 3 * LIMIT


def test_import_csv_refuses_a_gigabyte_sheet_by_its_size_before_reading(ctx):
    sparse = ctx.tmp / "huge.csv"
    with sparse.open("wb") as fh:
        fh.truncate(GIB)
    st = ctx.store
    with writes_nothing(st, ctx.spy), peak_memory() as peak, pytest.raises(CsvImportError) as err:
        import_csv(sparse, st.settings, st.engine, st.registry)
    assert [str(p) for p in err.value.report.problems] == [
        f"{sparse}: 1,073,741,824 bytes, over the limit of 1,048,576"]
    assert peak[0] < LIMIT


@pytest.mark.parametrize("content_type", ["application/mods+xml", "application/json"])
def test_api_refuses_a_declared_gigabyte_without_reading_it(ctx, content_type):
    body = Endless(record(b"x"), GIB)
    with writes_nothing(ctx.store, ctx.spy):
        resp = ctx.store.app.test_client().put("/api/records/hostile-1", input_stream=body,
                                               headers={**ctx.store.auth, "Content-Type": content_type})
    assert resp.status_code == 413 and resp.get_json()["detail"].startswith("the body is 1,073,741,824 bytes, over")
    assert body.delivered == 0


def test_api_reads_a_chunked_body_only_up_to_the_limit(ctx):
    body = Endless(record(b"x"), CHUNKED)
    with writes_nothing(ctx.store, ctx.spy), peak_memory() as peak:
        status, text = _chunked(ctx.store.app, "PUT", "/api/records/hostile-1", "application/mods+xml", body,
                                ctx.store.auth)
    assert status.startswith("413") and "the body is over the limit of 1,048,576 bytes" in text
    assert body.delivered <= 2 * LIMIT and peak[0] < 4 * LIMIT


def test_workbench_refuses_a_declared_gigabyte_without_reading_it(ctx):
    body = Endless(b"", GIB)
    with writes_nothing(ctx.store, ctx.spy):
        resp = ctx.store.app.test_client().post("/workbench", input_stream=body,
                                                content_type="multipart/form-data; boundary=b")
    assert resp.status_code == 413 and "The record is too large" in resp.get_data(as_text=True)
    assert body.delivered == 0


@pytest.mark.parametrize("url, content_type, head, answer", [
    ("/workbench", "application/x-www-form-urlencoded", b"target=oai_dc&source=<a>", "413 "),
    ("/workbench", "multipart/form-data; boundary=b",
     b'--b\r\nContent-Disposition: form-data; name="source"\r\n\r\n<a>', "413 "),
    ("/workbench", "multipart/form-data; boundary=b",
     b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.xml"\r\n\r\n<a>', "413 "),
    # Werkzeug ends a url-encoded body at the limit without a 413: OAI answers what it got.
    ("/oai", "application/x-www-form-urlencoded", b"verb=Identify&x=", '<error code="badArgument">'),
], ids=["workbench-paste-form", "workbench-paste-multipart", "workbench-upload", "oai-post"])
def test_forms_read_a_chunked_body_only_up_to_the_limit(ctx, url, content_type, head, answer):
    """Werkzeug reads a form whole, and a chunked body has no length to refuse it by: the app's
    MAX_CONTENT_LENGTH is what stops it, on every page that reads a form."""
    body = Endless(head, CHUNKED)
    with writes_nothing(ctx.store, ctx.spy), peak_memory() as peak:
        status, text = _chunked(ctx.store.app, "POST", url, content_type, body)
    assert answer in f"{status} {text}", status
    assert body.delivered <= LIMIT + 64 * 1024 + io.DEFAULT_BUFFER_SIZE and peak[0] < 8 * LIMIT


def test_workbench_takes_a_paste_as_large_as_it_says(ctx):
    """The page promises 1 MB; a paste of 700 KB is parsed, not refused by a form limit."""
    source = record(b"<n>" * 100_000 + b"</n>" * 100_000).decode()
    refusal = _workbench_refusal(ctx.store.app.test_client().post(
        "/workbench", data={"source": source, "target": "oai_dc"}, content_type="multipart/form-data"))
    assert "nested more than 256 levels deep" in refusal.text


# tracemalloc also counts the upstream server's thread (Werkzeug's writes of the hostile body):
# a generous bound, that whatever holds the half or whole gigabyte would still break.
UPSTREAM_PEAK = 16 * LIMIT


def _spaces(head: bytes, size: int, counter: list[int]) -> Iterator[bytes]:
    """`size` bytes (`head`, then spaces), made as they are sent; counts what was sent."""
    yield head
    counter[0] += len(head)
    block = b" " * 65536
    for _ in range((size - len(head)) // len(block)):
        counter[0] += len(block)
        yield block


def test_harvest_reads_a_streamed_gigabyte_only_up_to_the_limit(ctx):
    sent = [0]
    ctx.upstream.answer = lambda: ([], _spaces(b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">', GIB, sent))
    with writes_nothing(ctx.store, ctx.spy), peak_memory() as peak, pytest.raises(ResponseError) as err:
        _harvest(ctx)
    assert str(err.value).endswith(": the response is over the limit of 1,048,576 bytes")
    assert peak[0] < UPSTREAM_PEAK and sent[0] < GIB


def test_harvest_refuses_a_declared_gigabyte_without_reading_it(ctx):
    sent = [0]
    ctx.upstream.answer = lambda: ([("Content-Length", str(GIB))], _spaces(b"<OAI-PMH>", GIB, sent))
    with writes_nothing(ctx.store, ctx.spy), peak_memory() as peak, pytest.raises(ResponseError) as err:
        _harvest(ctx)
    assert str(err.value).endswith(": the response is 1,073,741,824 bytes (Content-Length), over the limit of "
                                   "1,048,576; it was not read")
    assert peak[0] < UPSTREAM_PEAK


def test_harvest_unpacks_a_gzip_bomb_only_up_to_the_limit(ctx):
    """Half a megabyte of gzip that unpacks to half a gigabyte (32 members of 16 MiB of spaces)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    member = b"".join([packer.compress(b" " * LIMIT) for _ in range(16)] + [packer.flush()])
    bomb = member * 32
    assert len(bomb) < LIMIT
    ctx.upstream.answer = lambda: ([("Content-Encoding", "gzip")], [bomb])
    with writes_nothing(ctx.store, ctx.spy), peak_memory() as peak, pytest.raises(ResponseError) as err:
        _harvest(ctx)
    assert str(err.value).endswith(": the response is over the limit of 1,048,576 bytes")
    assert peak[0] < UPSTREAM_PEAK


# --- what is accepted, and why it is harmless ------------------------------------------------

def _stored(engine, local_id: str) -> tuple[bytes, dict[str, bytes]]:
    """The record as sent, and its disseminations by prefix."""
    with engine.connect() as conn:
        rid, raw = conn.execute(sa.select(records.c.id, record_sources.c.native_xml)
                                .join(record_sources, record_sources.c.record_id == records.c.id)
                                .where(records.c.local_id == local_id)).one()
        served = dict(conn.execute(sa.select(disseminations.c.prefix, disseminations.c.xml)
                                   .where(disseminations.c.record_id == rid)).all())
    return raw, served


def test_processing_instructions_are_accepted_never_followed_and_never_served(settings, engine, registry, client,
                                                                              spy, upstream, tmp_path):
    """An <?xml-stylesheet?> names a URL nobody fetches, a PI in a title runs nowhere, and
    canonicalization drops both from every format served; the bytes as sent are kept as sent."""
    def document(local_id: str) -> bytes:
        stylesheet = f'<?xml-stylesheet type="text/xsl" href="{spy.url}/evil.xsl"?>\n'.encode()
        return stylesheet + record(b"Maps<?php system('id'); ?> of Kyiv").replace(b"hostile-1", local_id.encode())

    asked = len(spy.hits)
    path = tmp_path / "pi.xml"
    path.write_bytes(document("pi-ingest"))
    assert ingest([path], settings, engine, registry).added == 1
    auth = {"Authorization": f"Bearer {create_token(engine, 'editor', 'write')}"}
    assert client.put("/api/records/pi-api", data=document("pi-api"),
                      headers={**auth, "Content-Type": "application/mods+xml"}).status_code == 201
    response = oai_response(record(b"Maps<?php system('id'); ?> of Kyiv"))
    upstream.answer = lambda: ([], [f'<?xml-stylesheet href="{spy.url}/evil.xsl"?>'.encode() + response])
    assert harvest(HarvestOptions(upstream.url, prefix="mods"), settings, engine, registry,
                   Client(upstream.url, attempts=1, timeout=10)).added == 1
    bench = client.post("/workbench", data={"source": document("pi-bench").decode(), "target": "oai_dc"},
                        content_type="multipart/form-data")
    assert bench.status_code == 200 and "the output is valid oai_dc" in bench.get_data(as_text=True)

    assert _stored(engine, "pi-ingest")[0] == document("pi-ingest")
    for local_id in ("pi-ingest", "pi-api", "hostile-1"):
        served = _stored(engine, local_id)[1]
        assert set(served) == {"mods", "oai_dc"}
        assert all(b"<?" not in xml and b"Maps of Kyiv" in xml for xml in served.values()), served
    assert spy.hits[asked:] == []


CELL_MARKUP = ('<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>&x; &#x1; <?pi x?>'
               '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>')


def test_markup_in_a_csv_cell_or_a_json_value_is_text(settings, engine, registry, client, tmp_path):
    sheet = tmp_path / "markup.csv"
    sheet.write_text(f'id,title\r\ncell-1,"{CELL_MARKUP.replace(chr(34), chr(34) * 2)}"\r\n', encoding="utf-8")
    assert import_csv(sheet, settings, engine, registry).added == 1
    auth = {"Authorization": f"Bearer {create_token(engine, 'editor', 'write')}"}
    resp = client.put("/api/records/json-1", json={"title": CELL_MARKUP}, headers=auth)
    assert resp.status_code == 201, resp.data
    for local_id in ("cell-1", "json-1"):
        raw, served = _stored(engine, local_id)
        titles = [t for xml in served.values() for t in re.findall(rb"<(?:dc:)?title>(.*?)</", xml)]
        assert titles and all(html.unescape(t.decode()) == CELL_MARKUP for t in titles), titles
        assert b"root:" not in raw + b"".join(served.values())


def test_a_declared_8_bit_encoding_is_believed(settings, engine, registry, tmp_path):
    """UTF-8 bytes under a Latin-1 declaration are well-formed Latin-1: nothing can tell the lie."""
    path = tmp_path / "latin1.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="ISO-8859-1"?>' + record("café".encode()))
    assert ingest([path], settings, engine, registry).added == 1
    assert "cafÃ©".encode() in _stored(engine, "hostile-1")[1]["mods"]


# --- broken input that is not XML: CSV sheets and JSON bodies ---------------------------------

@pytest.mark.parametrize("data, says", [
    (b"id,title\r\nc1,bell\x07\r\n", "row 2, column B (title), record 'c1': contains characters XML cannot carry"),
    (b"id,title\r\nc1,caf\xe9\r\n", "is not UTF-8 (byte 0xe9 at line 2)"),
    ("id,title\r\nc1,x\r\n".encode("utf-16"), "is UTF-16; save it as UTF-8"),
], ids=["control-character", "invalid-utf-8", "utf-16"])
def test_import_csv_refuses_broken_sheets_naming_where(ctx, data, says):
    sheet = ctx.tmp / "broken.csv"
    sheet.write_bytes(data)
    st = ctx.store
    with writes_nothing(st, ctx.spy), pytest.raises(CsvImportError) as err:
        import_csv(sheet, st.settings, st.engine, st.registry)
    (problem,) = err.value.report.problems
    assert str(problem).startswith(str(sheet)) and says in str(problem), str(problem)


@pytest.mark.parametrize("body, status, says, field_", [
    (b"[" * 100_000, 400, "the JSON body is nested too deeply", None),
    (b'{"title": "caf\xe9"}', 400, "the JSON body is not UTF-8", None),
    (b'{"title": "bell\\u0007", "identifier": "j1"}', 422, "the value holds characters XML 1.0 does not allow",
     "title[0]"),
    (b'{"title": "\\ud800", "identifier": "j1"}', 422, "the value holds characters XML 1.0 does not allow",
     "title[0]"),
    (b'{"title": "' + b"x" * (LIMIT + 1) + b'"}', 413, "over the limit of 1,048,576", None),
], ids=["deep-nesting", "invalid-utf-8", "control-character", "lone-surrogate", "over-the-limit"])
def test_api_refuses_broken_json_naming_what(ctx, body, status, says, field_):
    with writes_nothing(ctx.store, ctx.spy):
        resp = ctx.store.app.test_client().put("/api/records/j1", data=body,
                                               headers={**ctx.store.auth, "Content-Type": "application/json"})
    assert resp.status_code == status and resp.mimetype == "application/problem+json"
    doc = resp.get_json()
    assert says in doc["detail"] and doc.get("field") == field_, doc


# --- as the librarian sees it: the commands ---------------------------------------------------

@pytest.fixture
def librarian(db_url, tmp_path, monkeypatch) -> Iterator[Granary]:
    """`granary` as a librarian runs it (tests/test_cli.py), on an initialised store."""
    created: list = []
    real = cli.create_app
    monkeypatch.setattr(cli, "create_app", lambda *args, **kwargs: created.append(real(*args, **kwargs)) or created[-1])
    monkeypatch.chdir(tmp_path)
    granary = Granary(db_url, created)
    assert granary("init").exit_code == 0
    yield granary
    granary.engine.dispose()


def _fails(result: Result) -> str:
    assert result.exit_code == 1, result.output
    return result.output


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_commands_say_what_was_refused_and_that_nothing_was_written(librarian, tmp_path, upstream, spy):
    before = librarian.snapshot()
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(ATTACKS[2].document(spy.url))
    out = _fails(librarian("ingest", bomb))
    assert f"error: {bomb}, line 1: {DOCTYPE}" in out and "nothing was written" in out

    sheet = tmp_path / "huge.csv"
    with sheet.open("wb") as fh:
        fh.truncate(GIB)
    out = _fails(librarian("import-csv", sheet, GRANARY_MAX_CSV_BYTES=str(LIMIT)))
    assert f"error: {sheet}: 1,073,741,824 bytes, over the limit of 1,048,576" in out

    doc = ATTACKS[0].document(spy.url, oai_response)
    upstream.answer = lambda: ([], [doc])
    out = _fails(librarian("harvest", upstream.url, "--prefix", "mods", "--retries", "0"))
    assert f"the response is not usable XML: line 1: {DOCTYPE}" in out
    assert librarian.snapshot() == before


def test_crosswalk_command_refuses_a_gigabyte_file_by_its_size_before_reading(tmp_path):
    from click.testing import CliRunner

    from repository import cli

    sparse = tmp_path / "huge.xml"
    with sparse.open("wb") as fh:
        fh.truncate(GIB)
    env = {"GRANARY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "GRANARY_SECRET_KEY": "k",
           "GRANARY_MAX_XML_BYTES": str(LIMIT)}
    with peak_memory() as peak:
        result = CliRunner().invoke(cli.main, ["crosswalk", str(sparse), "--to", "oai_dc"], env=env)
    assert result.exit_code == 1
    assert f"{sparse}: 1,073,741,824 bytes, over the limit of {LIMIT:,}" in result.output
    assert peak[0] < GIB // 64, "nothing of it was read (the bound leaves room for the app's start-up)"
