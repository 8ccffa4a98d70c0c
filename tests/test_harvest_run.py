"""`granary harvest` end to end: from a second Granary served over HTTP, and from saved responses.

The upstream Granary is a SQLite store loaded with the demo collection and
served on a free port with a small page size; the harvesting store is the
test store (SQLite and PostgreSQL). The upstream's records are put at fixed
old datestamps, so an incremental run asks for exactly what changed since.
"""
from __future__ import annotations

import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from lxml import etree

from crosswalks.registry import default_registry
from metadata.safe_xml import parse_xml
from repository import cli
from repository.app import create_app
from repository.db.engine import make_engine
from repository.db.migrate import upgrade
from repository.db.tables import disseminations, harvest_state, record_sources, records
from repository.demo.load import load_demo
from repository.harvest.client import Client, HarvestError, TransportError
from repository.harvest.run import HarvestOptions, HarvestRefused, harvest, load_state
from repository.ingest.prepare import prepare
from repository.store import writes
from tests.conftest import make_settings
from tests.fixtures import set_datestamp
from tests.live import serving
from tests.oai import NS, oai_get
from tests.test_harvest_client import RESPONSES, SICKLE, ZENODO, Sleeps, Stub

UPSTREAM_PAGE = 10
P = "{http://www.openarchives.org/OAI/2.0/provenance}"
MODS_NS = "http://www.loc.gov/mods/v3"


@dataclass
class Upstream:
    url: str
    settings: object
    engine: object
    registry: object
    live: set[str]
    withdrawn: set[str]

    def mods(self) -> dict[str, bytes]:
        """local_id -> canonical MODS of every live record."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(records.c.local_id, disseminations.c.xml)
                                .join(disseminations, disseminations.c.record_id == records.c.id)
                                .where(disseminations.c.prefix == "mods", records.c.deleted.is_(False))).all()
        return dict(rows)

    def retitle(self, local_id: str, title: str) -> None:
        with self.engine.connect() as conn:
            raw = conn.execute(sa.select(record_sources.c.native_xml).join(record_sources, record_sources.c.record_id == records.c.id)
                               .where(records.c.local_id == local_id)).scalar_one()
        root = parse_xml(raw, local_id).getroot()
        root.find(f".//{{{MODS_NS}}}title").text = title
        mods = self.registry.format("mods")
        writes.write_records(self.engine, 30, [prepare(self.registry, mods, root, local_id,
                                                       etree.tostring(root), frozenset())])


@pytest.fixture
def upstream(tmp_path: Path):
    """A second Granary: the demo collection, served for real, 10 records a page."""
    workdir = tmp_path / "upstream"
    workdir.mkdir()
    settings = make_settings(f"sqlite:///{workdir / 'upstream.db'}", workdir, GRANARY_PAGE_SIZE=str(UPSTREAM_PAGE),
                             GRANARY_BASE_URL="", GRANARY_REPOSITORY_IDENTIFIER="upstream.test",
                             GRANARY_SECRET_KEY="upstream-secret")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    writes.record_creation_time(engine)
    registry = default_registry()
    load_demo(settings, engine, registry)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(records.c.local_id, records.c.deleted)).all()
    for row in rows:   # old, fixed datestamps: later changes are the only ones after a harvest
        set_datestamp(engine, row.local_id, "2020-01-01T00:00:00Z")
    app = create_app(settings, engine, registry)
    try:
        with serving(app) as root:
            yield Upstream(f"{root}/oai", settings, engine, registry,
                           {r.local_id for r in rows if not r.deleted}, {r.local_id for r in rows if r.deleted})
    finally:
        engine.dispose()


@pytest.fixture
def serve():
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(serving(app)) + "/oai"


def stored(engine) -> dict[str, tuple[bool, bytes | None]]:
    """local_id -> (deleted, canonical MODS) of every record in the store."""
    src = records.outerjoin(disseminations, sa.and_(disseminations.c.record_id == records.c.id,
                                                    disseminations.c.prefix == "mods"))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(records.c.local_id, records.c.deleted, disseminations.c.xml)
                            .select_from(src)).all()
    return {r.local_id: (bool(r.deleted), r.xml) for r in rows}


def stamps(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(records.c.local_id, records.c.stamp)).all())


def run(settings, engine, registry, url, client=None, **options):
    return harvest(HarvestOptions(url, **{"prefix": "mods", **options}), settings, engine, registry, client)


# --- from a second Granary ------------------------------------------------------------------

def test_full_harvest_copies_every_live_record(upstream, settings, engine, registry):
    report = run(settings, engine, registry, upstream.url)
    assert report.complete and report.pages == -(-len(upstream.live | upstream.withdrawn) // UPSTREAM_PAGE)
    assert report.added == len(upstream.live) and report.updated == 0
    # The record withdrawn upstream before we ever had it leaves nothing here.
    assert report.deletions_passed_over == len(upstream.withdrawn)
    here = stored(engine)
    assert set(here) == upstream.live
    assert {k: xml for k, (_, xml) in here.items()} == upstream.mods()
    with engine.connect() as conn:
        state = conn.execute(sa.select(harvest_state)).one()
    assert state.resumption_token is None and state.harvest_started is None
    assert state.last_response_date == report.started and state.prefix == "mods" and state.set_spec == ""


def test_harvested_records_carry_valid_provenance(upstream, settings, engine, registry, client):
    run(settings, engine, registry, upstream.url)
    local = min(upstream.live)
    mods = oai_get(client, verb="GetRecord", identifier=f"oai:granary.test:{local}", metadataPrefix="mods")
    origin = mods.find(f"oai:GetRecord/oai:record/oai:about/{P}provenance/{P}originDescription", NS)
    assert origin is not None and origin.get("altered") == "false"
    assert origin.findtext(f"{P}baseURL") == upstream.url
    assert origin.findtext(f"{P}identifier") == f"oai:upstream.test:{local}"
    assert origin.findtext(f"{P}datestamp") == "2020-01-01T00:00:00Z"
    assert origin.findtext(f"{P}metadataNamespace") == MODS_NS
    # oai_dc is crosswalked here from the MODS we harvested: altered.
    dc = oai_get(client, verb="ListRecords", metadataPrefix="oai_dc")
    abouts = dc.findall(f"oai:ListRecords/oai:record/oai:about/{P}provenance/{P}originDescription", NS)
    assert abouts and all(a.get("altered") == "true" for a in abouts)


def test_incremental_run_fetches_only_changes(upstream, settings, engine, registry):
    first = run(settings, engine, registry, upstream.url)
    before = stamps(engine)
    changed = sorted(upstream.live)[:2]
    gone = max(upstream.live)
    for local in changed:
        upstream.retitle(local, f"Retitled {local}")
    writes.delete_record(upstream.engine, 30, gone)
    second = run(settings, engine, registry, upstream.url)
    assert second.from_ == first.started and second.complete
    assert (second.added, second.updated, second.deleted, second.received) == (0, 2, 1, 3)
    after = stamps(engine)
    assert {k for k in before if after[k] != before[k]} == {*changed, gone}
    here = stored(engine)
    assert here[gone] == (True, None)     # deleted upstream: a tombstone here
    assert all(f"Retitled {k}".encode() in here[k][1] for k in changed)


def test_interrupted_harvest_resumes_from_the_saved_token(upstream, settings, engine, registry):
    calls = []
    opener = urllib.request.build_opener()

    def failing(req, timeout):
        if "ListRecords" in req.full_url:
            calls.append(req.full_url)
            if len(calls) > 2:
                raise urllib.error.URLError("network down")  # a pulled cable after two pages
        return opener.open(req, timeout=timeout)

    with pytest.raises(TransportError):
        run(settings, engine, registry, upstream.url, Client(upstream.url, opener=failing, attempts=2, sleep=Sleeps()))
    state = load_state(engine, HarvestOptions(upstream.url, "mods"))
    assert state.resumption_token and state.harvest_started and state.last_response_date is None
    partial = stored(engine)
    assert 0 < len(partial) < len(upstream.live)

    report = run(settings, engine, registry, upstream.url)
    total_pages = -(-len(upstream.live | upstream.withdrawn) // UPSTREAM_PAGE)
    assert report.resumed and report.complete and report.pages == total_pages - 2
    assert report.added == len(upstream.live) - len(partial) and report.unchanged == 0
    assert report.started == state.harvest_started    # the first page's date, of the first run
    assert {k: xml for k, (_, xml) in stored(engine).items()} == upstream.mods()


def test_expired_token_restarts_the_list_without_duplicates(upstream, settings, engine, registry):
    run(settings, engine, registry, upstream.url, max_pages=2)
    first_half = stamps(engine)
    with engine.begin() as conn:   # as if the upstream had forgotten the token meanwhile
        conn.execute(sa.update(harvest_state).values(resumption_token="expired"))
    report = run(settings, engine, registry, upstream.url)
    assert report.resumed and report.restarted and report.complete
    assert report.unchanged == len(first_half) and report.added == len(upstream.live) - len(first_half)
    after = stamps(engine)
    assert all(after[k] == v for k, v in first_half.items())   # re-seen records did not change
    assert set(after) == upstream.live


def test_dry_run_writes_nothing(upstream, settings, engine, registry):
    report = run(settings, engine, registry, upstream.url, dry_run=True)
    assert report.complete and report.added == len(upstream.live)
    assert stored(engine) == {}
    assert load_state(engine, HarvestOptions(upstream.url, "mods")) is None


def test_into_set_must_exist_and_holds_every_record(upstream, settings, engine, registry):
    with pytest.raises(HarvestError, match="does not exist"):
        run(settings, engine, registry, upstream.url, into_set="cold-war")
    writes.add_set(engine, 30, "cold-war", "Cold War documents", None)
    report = run(settings, engine, registry, upstream.url, into_set="cold-war")
    with engine.connect() as conn:
        specs = set(conn.execute(sa.select(records.c.set_specs)).scalars())
    assert report.added == len(upstream.live) and specs == {"cold-war"}


def test_a_record_ingested_here_is_not_overwritten(upstream, settings, engine, registry):
    local = min(upstream.live)
    mods = registry.format("mods")
    root = parse_xml(upstream.mods()[local], local).getroot()
    writes.write_records(engine, 30, [prepare(registry, mods, root, local, etree.tostring(root), frozenset())])
    with pytest.raises(HarvestRefused) as exc:
        run(settings, engine, registry, upstream.url)
    assert "ingested here" in str(exc.value.problems[0])
    assert set(stored(engine)) == {local}


# --- from saved real responses --------------------------------------------------------------

def test_saved_zenodo_pages_through_503s(serve, settings, engine, registry):
    stub = Stub(ZENODO, RESPONSES / "zenodo-Identify.xml")
    stub.failures = [("503 Service Unavailable", [("Retry-After", "1")])]
    sleeps = Sleeps()
    url = serve(stub)
    report = run(settings, engine, registry, url, Client(url, sleep=sleeps), prefix="oai_dc")
    assert sleeps == [1.0] and report.complete and report.pages == 3
    assert report.added == 8 and report.deletions_passed_over == 1
    assert "2217771" in stored(engine) and "40165" in stored(engine)
    # The next run asks for changes since the first page's responseDate, at the upstream's granularity.
    again = run(settings, engine, registry, url, prefix="oai_dc")
    assert again.from_ == "2024-01-18T16:26:03Z" and again.unchanged == 8
    first_list = [r for r in stub.list_requests() if "resumptionToken" not in r]
    assert "from" not in first_list[0] and first_list[-1]["from"] == again.from_


def test_an_invalid_record_refuses_its_page_and_keeps_the_state(serve, settings, engine, registry):
    url = serve(Stub(SICKLE))
    with pytest.raises(HarvestRefused) as exc:
        run(settings, engine, registry, url, prefix="oai_dc")
    problem = exc.value.problems[0]
    assert problem.record == "oai:test.example.com:1585322" and problem.line
    assert stored(engine) == {} and load_state(engine, HarvestOptions(url, "oai_dc")) is None

    report = run(settings, engine, registry, url, prefix="oai_dc", skip_invalid=True)
    assert report.complete and report.pages == 4 and report.added == 0
    # Sickle's test pages: the same invalid record on every page, and a header with no identifier.
    assert {p.record for p in report.skipped} == {"oai:test.example.com:1585322", None}
    assert any("no header identifier" in p.message for p in report.skipped)


def test_upstream_provenance_is_nested_and_served_valid(serve, settings, engine, registry, client):
    url = serve(Stub({None: RESPONSES / "oai-spec-ex-sec2.5.xml"}))
    report = run(settings, engine, registry, url, prefix="oai_dc")
    assert report.added == 1
    root = oai_get(client, verb="GetRecord", identifier="oai:granary.test:cs/0112017", metadataPrefix="oai_dc")
    outer = root.find(f"oai:GetRecord/oai:record/oai:about/{P}provenance/{P}originDescription", NS)
    assert outer.findtext(f"{P}baseURL") == url and outer.findtext(f"{P}identifier") == "oai:arXiv:cs/0112017"
    inner = outer.find(f"{P}originDescription")
    assert inner.findtext(f"{P}baseURL") == "http://the.oa.org" and inner.get("harvestDate") == "2002-02-02T14:10:02Z"


def test_no_records_match_ends_a_harvest_normally(serve, settings, engine, registry):
    url = serve(Stub({None: RESPONSES / "sickle-noRecordsMatch.xml"}))
    report = run(settings, engine, registry, url, prefix="oai_dc")
    assert report.complete and report.added == 0 and report.pages == 1


def test_cli_harvest_summary_and_dry_run(upstream, db_url, settings, engine):
    env = {"GRANARY_DATABASE_URL": db_url, "GRANARY_SECRET_KEY": "cli-secret",
           "GRANARY_REPOSITORY_IDENTIFIER": "granary.test", "GRANARY_ADMIN_EMAIL": "l@granary.test"}
    dry = CliRunner().invoke(cli.main, ["harvest", upstream.url, "--prefix", "mods", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert f"would be added {len(upstream.live)}" in dry.output and "nothing was written" in dry.output
    assert stored(engine) == {}
    real = CliRunner().invoke(cli.main, ["harvest", upstream.url, "--prefix", "mods"], env=env)
    assert real.exit_code == 0, real.output
    assert f"added {len(upstream.live)}" in real.output and "complete" in real.output
    missing = CliRunner().invoke(cli.main, ["harvest", upstream.url, "--into-set", "nope"], env=env)
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_day_granularity_repositories_get_day_dates(serve, settings, engine, registry):
    """pyoai's saved DSpace page (79 records, 2 deletions) behind an Identify saying YYYY-MM-DD."""
    stub = Stub({None: RESPONSES / "pyoai-fake2-00002.xml"}, RESPONSES / "sickle-Identify.xml")
    url = serve(stub)
    first = run(settings, engine, registry, url, prefix="oai_dc")
    assert (first.added, first.deletions_passed_over, first.pages) == (79, 2, 1)
    assert "hdl:1765/1162" in stored(engine)   # not oai-identifier syntax: the whole identifier
    again = run(settings, engine, registry, url, prefix="oai_dc")
    assert again.from_ == "2004-02-17" and again.unchanged == 79
    assert stub.list_requests()[-1]["from"] == "2004-02-17"
    explicit = run(settings, engine, registry, url, prefix="oai_dc", from_="2004-01-01T00:00:00Z")
    assert explicit.from_ == "2004-01-01"
    with pytest.raises(HarvestError, match="--from"):
        run(settings, engine, registry, url, prefix="oai_dc", from_="last tuesday")
