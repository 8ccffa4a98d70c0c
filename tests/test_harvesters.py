"""Real harvesters harvest the demo repository over HTTP, the way aggregators do.

Protocol tests check responses one at a time; what an aggregator cares about is
whether a client it already runs (Sickle, pyoai, oaipmh-scythe) walks every
resumption token to the end and comes back with exactly what the store holds:
every identifier, the deleted one reported as deleted, every set, and metadata
that is the store's own. Each client speaks a little differently (pyoai POSTs,
Sickle asks for gzip, scythe uses httpx), so each is a separate witness.

The app is served for real on an ephemeral port; a small page size makes every
list take several pages. A recording middleware keeps every response body so
the test can also validate, against the official schemas, exactly what the
clients consumed.
"""
from __future__ import annotations

import json
import math
import socket
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from lxml import etree

from repository.db.tables import disseminations, record_sets, records, sets
from repository.demo.load import DEMO_DIR, load_demo
from tests.conftest import make_settings
from tests.fixtures import set_datestamp
from tests.live import serving
from tests.oai import valid_response

PAGE = 10
REPO_ID = "granary.test"
TIMEOUT_S = 30
PREFIXES = ("oai_dc", "mods")
# Where titles are, from the root of a metadata payload (oai_dc:dc, mods:mods).
TITLE_PATHS = {"oai_dc": "{http://purl.org/dc/elements/1.1/}title", "mods": ".//{*}title"}


def oai_id(local: str) -> str:
    return f"oai:{REPO_ID}:{local}"


@dataclass(frozen=True)
class Item:
    """What a harvester learnt about one record: deleted or not, and its titles."""

    deleted: bool
    titles: tuple[str, ...] = ()


def _titles(metadata_root: etree._Element | None, prefix: str) -> tuple[str, ...]:
    if metadata_root is None:
        return ()
    return tuple(e.text for e in metadata_root.iterfind(TITLE_PATHS[prefix]) if e.text)


# --- the store's own view: plain SQL, no pagination ----------------------------------------

def store_items(engine, prefix: str, set_spec: str | None = None, from_us: int | None = None) -> dict[str, Item]:
    """Every record a harvest with these arguments must return, with the titles of its
    stored dissemination in `prefix`."""
    src = records.outerjoin(disseminations, sa.and_(disseminations.c.record_id == records.c.id,
                                                    disseminations.c.prefix == prefix))
    stmt = sa.select(records.c.local_id, records.c.deleted, disseminations.c.xml)
    if set_spec is not None:
        src = src.join(record_sets, record_sets.c.record_id == records.c.id)
        stmt = stmt.where(record_sets.c.spec == set_spec)
    if from_us is not None:
        stmt = stmt.where(records.c.stamp >= from_us)
    with engine.connect() as conn:
        rows = conn.execute(stmt.select_from(src)).all()
    return {oai_id(r.local_id): Item(bool(r.deleted), () if r.deleted else _titles(etree.fromstring(r.xml), prefix))
            for r in rows}


def store_sets(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(sets.c.spec, sets.c.name)).all())


# --- the server ------------------------------------------------------------------------------

class Recorder:
    """WSGI middleware that keeps each response body (decompressed) for later validation."""

    def __init__(self, app) -> None:
        self.app = app
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        seen: dict[str, str] = {}

        def capture_start(status, headers, exc_info=None):
            seen.update((k.lower(), v) for k, v in headers)
            return start_response(status, headers, exc_info)

        chunks = list(self.app(environ, capture_start))
        body = b"".join(chunks)
        encoding = seen.get("content-encoding")
        if encoding == "gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        with self.lock:
            self.bodies.append(body)
        return chunks

    def take(self) -> list[bytes]:
        with self.lock:
            bodies, self.bodies = self.bodies, []
        return bodies


@dataclass
class Served:
    url: str
    recorder: Recorder
    engine: object
    collection: dict


@pytest.fixture
def settings(db_url, tmp_path):
    # No GRANARY_BASE_URL: the baseURL is the URL the harvesters really use.
    return make_settings(db_url, tmp_path, GRANARY_PAGE_SIZE=str(PAGE), GRANARY_BASE_URL="")


@pytest.fixture
def served(settings, engine, registry, app):
    collection_file = DEMO_DIR / "collection.json"
    assert collection_file.exists(), "the demo collection (repository/demo/collection.json) is missing"
    collection = json.loads(collection_file.read_text(encoding="utf-8"))
    load_demo(settings, engine, registry)
    recorder = Recorder(app)
    with serving(recorder, TIMEOUT_S) as root:
        yield Served(f"{root}/oai", recorder, engine, collection)


# --- the harvesters, each behind the same small interface --------------------------------------

class SickleHarvester:
    name = "sickle"

    def __init__(self, url: str) -> None:
        import sickle

        self.client = sickle.Sickle(url, timeout=TIMEOUT_S)

    @staticmethod
    def _args(prefix, set_spec, from_):
        return {"metadataPrefix": prefix, **({"set": set_spec} if set_spec else {}),
                **({"from": from_} if from_ else {})}

    def identify(self) -> dict[str, str]:
        i = self.client.Identify()
        return {"baseURL": i.baseURL, "granularity": i.granularity, "deletedRecord": i.deletedRecord}

    def identifiers(self, prefix, set_spec=None, from_=None) -> dict[str, bool]:
        return {h.identifier: h.deleted for h in self.client.ListIdentifiers(
            ignore_deleted=False, **self._args(prefix, set_spec, from_))}

    def records(self, prefix, set_spec=None, from_=None) -> dict[str, Item]:
        return {r.header.identifier: self._item(r, prefix) for r in self.client.ListRecords(
            ignore_deleted=False, **self._args(prefix, set_spec, from_))}

    def sets(self) -> dict[str, str]:
        return {s.setSpec: s.setName for s in self.client.ListSets()}

    def get(self, identifier, prefix) -> Item:
        return self._item(self.client.GetRecord(identifier=identifier, metadataPrefix=prefix), prefix)

    @staticmethod
    def _item(record, prefix) -> Item:
        if record.deleted:
            return Item(True)
        return Item(False, tuple(t for t in record.metadata.get("title", []) if t))


class _Evaluator:
    """An lxml XPath evaluator with the `.evaluate` method pyoai 2.5 calls (lxml 6 removed it)."""

    def __init__(self, evaluator) -> None:
        self._evaluator = evaluator

    def __call__(self, expr, **kw):
        return self._evaluator(expr, **kw)

    evaluate = __call__


class _EtreeForPyoai:
    """lxml.etree as pyoai expects it: everything passes through except XPathEvaluator."""

    def __getattr__(self, name):
        return getattr(etree, name)

    @staticmethod
    def XPathEvaluator(node, **kw):  # noqa: N802 - lxml's name
        return _Evaluator(etree.XPathEvaluator(node, **kw))


class PyoaiHarvester:
    name = "pyoai"

    def __init__(self, url: str) -> None:
        from oaipmh.client import Client
        from oaipmh.metadata import MetadataReader, MetadataRegistry, oai_dc_reader

        registry = MetadataRegistry()
        registry.registerReader("oai_dc", oai_dc_reader)
        # pyoai ships no MODS reader; an aggregator registers its own, as here.
        registry.registerReader("mods", MetadataReader(
            fields={"title": ("textList", ".//*[local-name()='title']/text()")}))
        self.client = Client(url, registry)

    @staticmethod
    def _args(prefix, set_spec, from_):
        kw = {"metadataPrefix": prefix}
        if set_spec:
            kw["set"] = set_spec
        if from_:
            kw["from_"] = datetime.strptime(from_, "%Y-%m-%dT%H:%M:%SZ")
        return kw

    def identify(self) -> dict[str, str]:
        i = self.client.identify()
        return {"baseURL": i.baseURL(), "granularity": i.granularity(), "deletedRecord": i.deletedRecord()}

    def identifiers(self, prefix, set_spec=None, from_=None) -> dict[str, bool]:
        return {h.identifier(): bool(h.isDeleted())
                for h in self.client.listIdentifiers(**self._args(prefix, set_spec, from_))}

    def records(self, prefix, set_spec=None, from_=None) -> dict[str, Item]:
        return {h.identifier(): self._item(h, md)
                for h, md, _ in self.client.listRecords(**self._args(prefix, set_spec, from_))}

    def sets(self) -> dict[str, str]:
        return {spec: name for spec, name, _ in self.client.listSets()}

    def get(self, identifier, prefix) -> Item:
        header, md, _ = self.client.getRecord(identifier=identifier, metadataPrefix=prefix)
        return self._item(header, md)

    @staticmethod
    def _item(header, md) -> Item:
        if header.isDeleted():
            return Item(True)
        return Item(False, tuple(t for t in md.getField("title") if t))


class ScytheHarvester:
    name = "scythe"

    def __init__(self, url: str) -> None:
        from oaipmh_scythe import Scythe
        from oaipmh_scythe.config import HTTPConfig

        self.client = Scythe(url, http_config=HTTPConfig(timeout=TIMEOUT_S))

    def identify(self) -> dict[str, str]:
        i = self.client.identify()
        return {"baseURL": i.baseURL, "granularity": i.granularity, "deletedRecord": i.deletedRecord}

    def identifiers(self, prefix, set_spec=None, from_=None) -> dict[str, bool]:
        return {h.identifier: h.deleted for h in self.client.list_identifiers(
            metadata_prefix=prefix, set_=set_spec, from_=from_, ignore_deleted=False)}

    def records(self, prefix, set_spec=None, from_=None) -> dict[str, Item]:
        return {r.header.identifier: self._item(r) for r in self.client.list_records(
            metadata_prefix=prefix, set_=set_spec, from_=from_, ignore_deleted=False)}

    def sets(self) -> dict[str, str]:
        return {s.setSpec: s.setName for s in self.client.list_sets()}

    def get(self, identifier, prefix) -> Item:
        return self._item(self.client.get_record(identifier, metadata_prefix=prefix))

    @staticmethod
    def _item(record) -> Item:
        if record.deleted:
            return Item(True)
        return Item(False, tuple(t for t in record.metadata.get("title", []) if t))


HARVESTERS = {h.name: h for h in (SickleHarvester, PyoaiHarvester, ScytheHarvester)}


@pytest.fixture(params=sorted(HARVESTERS))
def harvester(request, served, monkeypatch):
    if request.param == "pyoai":
        import oaipmh.client
        import oaipmh.metadata

        monkeypatch.setattr(oaipmh.client, "etree", _EtreeForPyoai())
        monkeypatch.setattr(oaipmh.metadata, "etree", _EtreeForPyoai())
        # pyoai's urllib requests have no timeout of their own: bound them.
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(TIMEOUT_S)
        request.addfinalizer(lambda: socket.setdefaulttimeout(previous))
    client = HARVESTERS[request.param](served.url)
    yield client
    close = getattr(client.client, "close", None)
    if close:
        close()


def assert_all_valid(bodies: list[bytes]) -> None:
    assert bodies, "the server recorded no responses"
    for body in bodies:
        valid_response(body)


# --- the tests -------------------------------------------------------------------------------

def test_full_harvest_matches_the_store(harvester, served):
    """ListIdentifiers and ListRecords in both formats and ListSets, walked to the end, give
    exactly the store's identifiers (the withdrawn record reported deleted), its sets,
    and metadata equal to its stored disseminations; every page is schema-valid."""
    expected = store_items(served.engine, "oai_dc")
    deleted = {oai_id(local) for local in served.collection["deleted"]}
    # The store holds the demo collection as published, so the comparison below means something.
    assert set(expected) == {oai_id(local) for local in served.collection["records"]}
    assert {i for i, item in expected.items() if item.deleted} == deleted and deleted
    pages = math.ceil(len(expected) / PAGE)
    assert pages >= 3, "the demo collection should need several pages at this page size"

    served.recorder.take()
    for prefix in PREFIXES:
        got = harvester.identifiers(prefix)
        assert len(served.recorder.take()) == pages, "each page requested exactly once, via its token"
        assert got == {i: item.deleted for i, item in expected.items()}

        want = store_items(served.engine, prefix)
        got_records = harvester.records(prefix)
        bodies = served.recorder.take()
        assert len(bodies) == pages
        assert got_records == want
        assert all(item.titles for item in want.values() if not item.deleted)
        assert_all_valid(bodies)

    assert harvester.sets() == store_sets(served.engine)
    assert set(store_sets(served.engine)) == {s["spec"] for s in served.collection["sets"]}
    assert_all_valid(served.recorder.take())


def test_identify_and_get_record(harvester, served):
    """Identify tells harvesters the URL they used, the granularity and that deletions
    persist; GetRecord returns a record's stored metadata, and a tombstone for the
    withdrawn one."""
    info = harvester.identify()
    assert info == {"baseURL": served.url, "granularity": "YYYY-MM-DDThh:mm:ssZ", "deletedRecord": "persistent"}
    live = sorted(set(served.collection["records"]) - set(served.collection["deleted"]))[0]
    for prefix in PREFIXES:
        want = store_items(served.engine, prefix)
        assert harvester.get(oai_id(live), prefix) == want[oai_id(live)]
        assert want[oai_id(live)].titles
        gone = oai_id(served.collection["deleted"][0])
        assert harvester.get(gone, prefix) == Item(True)
    assert_all_valid(served.recorder.take())


def _hierarchical_parent(collection: dict) -> str:
    """The parent set with the most records that are members only through a subset."""
    parents = {s["spec"].rsplit(":", 1)[0] for s in collection["sets"] if ":" in s["spec"]}
    assert parents, "the demo collection should have a set hierarchy"

    def only_via_children(parent: str) -> int:
        return sum(1 for specs in collection["records"].values()
                   if parent not in specs and any(s.startswith(parent + ":") for s in specs))

    return max(sorted(parents), key=only_via_children)


def test_selective_harvest_by_hierarchical_set(harvester, served):
    """A harvest of a parent set returns its own members and every member of its subsets
    (spec 3.6), nothing else, however the client pages through it."""
    parent = _hierarchical_parent(served.collection)
    via_children = {oai_id(local) for local, specs in served.collection["records"].items()
                    if any(s == parent or s.startswith(parent + ":") for s in specs)}
    expected = store_items(served.engine, "oai_dc", set_spec=parent)
    assert set(expected) == via_children
    assert any(parent not in served.collection["records"][i.rsplit(":", 1)[1]] for i in via_children)
    assert len(expected) < len(served.collection["records"])

    got = harvester.identifiers("oai_dc", set_spec=parent)
    assert got == {i: item.deleted for i, item in expected.items()}
    assert harvester.records("mods", set_spec=parent) == store_items(served.engine, "mods", set_spec=parent)
    assert_all_valid(served.recorder.take())


def test_selective_harvest_from_a_date(harvester, served):
    """An incremental harvest with `from` returns exactly the records changed at or after
    it, deleted ones included, across pages."""
    # Give the records a history: one an hour from 2020-01-01, in identifier order.
    locals_ = sorted(served.collection["records"])
    base = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
    for i, local in enumerate(locals_):
        set_datestamp(served.engine, local, datetime.fromtimestamp(base + 3600 * i, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    # Keep the withdrawn record inside the window, so deletions must come through too.
    gone = served.collection["deleted"][0]
    set_datestamp(served.engine, gone, datetime.fromtimestamp(base + 3600 * len(locals_), UTC)
                  .strftime("%Y-%m-%dT%H:%M:%SZ"))
    cut = len(locals_) // 3
    from_dt = datetime.fromtimestamp(base + 3600 * cut, UTC)
    from_ = from_dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    expected = store_items(served.engine, "oai_dc", from_us=(base + 3600 * cut) * 1_000_000)
    assert set(expected) == {oai_id(local) for local in locals_[cut:]} | {oai_id(gone)}
    assert len(expected) > PAGE and expected[oai_id(gone)].deleted

    assert harvester.identifiers("oai_dc", from_=from_) == {i: item.deleted for i, item in expected.items()}
    assert harvester.records("oai_dc", from_=from_) == expected
    assert_all_valid(served.recorder.take())
