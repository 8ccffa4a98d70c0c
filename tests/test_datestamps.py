"""Incremental harvesting never misses a change, even one committed during a harvest."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from metadata.safe_xml import parse_xml
from repository.db.tables import write_leases
from repository.ingest.pipeline import ingest
from repository.ingest.prepare import prepare
from repository.oai.dates import datestamp
from repository.store import clock, writes
from tests.fixtures import corpus_paths, set_datestamp
from tests.oai import NS, harvest, oai_get


def _response_date_of_full_harvest(client) -> tuple[str, set[str]]:
    root = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    date = root.findtext("oai:responseDate", namespaces=NS)
    items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc")
    return date, {i.findtext("oai:identifier", namespaces=NS) for i in items}


def _changed_record(registry, path, title: str):
    data = path.read_bytes().replace(b"</title>", f" ({title})</title>".encode(), 1)
    root = parse_xml(data, str(path)).getroot()
    return prepare(registry, registry.format("mods"), root, path.stem, data, frozenset())


def test_incremental_harvest_from_response_date_sees_later_changes(settings, engine, registry, client):
    paths = corpus_paths("mods/fsu-*.xml")
    ingest(paths, settings, engine, registry, ids_from_record=False)
    for p in paths:
        set_datestamp(engine, p.stem, "2001-01-01T00:00:00Z")
    since, ids = _response_date_of_full_harvest(client)
    assert len(ids) == 3
    writes.write_records(engine, 60, [_changed_record(registry, paths[0], "revised")])
    items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc", **{"from": since})
    assert {i.findtext("oai:identifier", namespaces=NS) for i in items} == {f"oai:granary.test:{paths[0].stem}"}


def test_a_change_committed_during_a_harvest_is_not_missed(settings, engine, registry, client):
    """A writer stamps its change, then is slow to commit; meanwhile a harvest runs.

    Without the write lease the harvest's responseDate would be later than the
    change's datestamp, and the next `from=responseDate` harvest would miss it.
    """
    paths = corpus_paths("mods/fsu-*.xml")
    ingest(paths, settings, engine, registry, ids_from_record=False)
    for p in paths:
        set_datestamp(engine, p.stem, "2001-01-01T00:00:00Z")
    release = threading.Event()
    changed = _changed_record(registry, paths[1], "slow commit")

    def slow_batch():
        yield changed
        release.wait(30)

    writer = threading.Thread(target=writes.write_records, args=(engine, 60, slow_batch()))
    writer.start()
    try:
        deadline = time.time() + 10
        while _lease_count(engine) == 0 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(1.2)  # the change's stamp is now more than a second old, not yet committed
        since, seen = _response_date_of_full_harvest(client)
        assert f"oai:granary.test:{paths[1].stem}" in seen  # its old version
    finally:
        release.set()
        writer.join()
    items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc", **{"from": since})
    assert f"oai:granary.test:{paths[1].stem}" in {i.findtext("oai:identifier", namespaces=NS) for i in items}


def _lease_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(write_leases)).scalar_one()


def test_watermark_ignores_leases_of_crashed_writers(engine):
    with engine.begin() as conn:
        conn.execute(sa.insert(write_leases).values(started=1_000_000, owner="crashed:1"))
    with clock.read_view(engine, 3600) as (_, upper):
        assert upper > 1_000_000 * 1000
    with clock.read_view(engine, 10**12) as (_, upper):
        assert upper == 1_000_000


def test_a_failed_write_releases_its_lease(settings, engine, registry):
    def boom():
        yield _changed_record(registry, corpus_paths("mods/fsu-*.xml")[0], "x")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        writes.write_records(engine, 60, boom())
    assert _lease_count(engine) == 0


def test_datestamps_never_go_backwards(settings, engine, registry):
    path = corpus_paths("mods/fsu-*.xml")[0]
    ingest([path], settings, engine, registry, ids_from_record=False)
    set_datestamp(engine, path.stem, "2999-01-01T00:00:00Z")  # a stamp from a clock that ran fast
    writes.write_records(engine, 60, [_changed_record(registry, path, "later")])
    with engine.connect() as conn:
        from repository.db.tables import records

        stamp = conn.execute(sa.select(records.c.stamp)).scalar_one()
    assert stamp > 32472144000 * 1_000_000  # after 2999-01-01


def test_an_empty_list_answers_as_of_the_watermark(engine, client):
    """noRecordsMatch is an empty list: its responseDate must not run ahead of a write in
    progress, or a harvester taking it as its next `from` would skip that write."""
    from datetime import UTC, datetime

    lease = clock.acquire_lease(engine)
    try:
        time.sleep(1.1)
        root = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2999-01-01"})
    finally:
        clock.release_lease_now(engine, lease)
    assert root.find("oai:error", NS).get("code") == "noRecordsMatch"
    answered = datetime.strptime(root.findtext("oai:responseDate", namespaces=NS), "%Y-%m-%dT%H:%M:%SZ")
    assert answered.replace(tzinfo=UTC).timestamp() < time.time() - 1, "responseDate is the lease's start, not now"


def _walk(client, **args) -> tuple[list[str], list[str]]:
    """The identifiers and responseDates of a list, page by page."""
    ids, dates = [], []
    verb = args["verb"]
    while True:
        root = oai_get(client, **args)
        dates.append(root.findtext("oai:responseDate", namespaces=NS))
        ids += [i.text for i in root.findall(".//oai:header/oai:identifier", NS)]
        token = root.findtext(".//oai:resumptionToken", namespaces=NS)
        if not token:
            return ids, dates
        args = {"verb": verb, "resumptionToken": token}


def _paged_client(settings, engine, registry, page_size: int):
    from dataclasses import replace

    from repository.app import create_app

    return create_app(replace(settings, page_size=page_size), engine, registry).test_client()


def _one_a_page(settings, engine, registry):
    paths = corpus_paths("mods/fsu-*.xml")
    ingest(paths, settings, engine, registry, ids_from_record=False)
    for day, p in enumerate(paths, start=1):
        set_datestamp(engine, p.stem, f"2001-01-0{day}T00:00:00Z")
    return paths, _paged_client(settings, engine, registry, 1)


@pytest.mark.parametrize("page_size", [1, 10])
def test_every_page_lists_below_the_watermark_and_answers_as_of_it(settings, engine, registry, page_size):
    """A write in progress since a minute ago: first and resumed pages (which reuse the first
    page's watermark from their token) list only what was stamped before it and answer as of
    its start; so does an empty list."""
    paths = corpus_paths("mods/fsu-*.xml")
    ingest(paths, settings, engine, registry, ids_from_record=False)
    now = int(time.time())
    for age, p in zip((300, 200, 30), paths):
        set_datestamp(engine, p.stem, datestamp((now - age) * 1_000_000))
    lease_start = (now - 60) * 1_000_000
    with engine.begin() as conn:
        conn.execute(sa.insert(write_leases).values(started=lease_start, owner="elsewhere:1:1"))
    client = _paged_client(settings, engine, registry, page_size)
    expected_date = datestamp(lease_start)

    ids, dates = _walk(client, verb="ListRecords", metadataPrefix="oai_dc")
    assert ids == [f"oai:granary.test:{p.stem}" for p in paths[:2]]
    assert set(dates) == {expected_date}

    empty = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                    **{"from": datestamp((now - 50) * 1_000_000)})
    assert empty.find("oai:error", NS).get("code") == "noRecordsMatch"
    assert empty.findtext("oai:responseDate", namespaces=NS) == expected_date


def test_later_pages_list_as_of_the_first_and_the_next_harvest_brings_what_changed(settings, engine, registry):
    """A list's pages share the first page's watermark (its token carries it): a record that
    changes mid-harvest moves above it and is left to the next harvest from its responseDate."""
    paths, client = _one_a_page(settings, engine, registry)
    first = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    since = first.findtext("oai:responseDate", namespaces=NS)
    time.sleep(1.1)  # the change is stamped in a later second than the first page's watermark
    writes.write_records(engine, 60, [_changed_record(registry, paths[2], "revised mid-harvest")])
    ids, dates = _walk(client, verb="ListIdentifiers",
                       resumptionToken=first.findtext(".//oai:resumptionToken", namespaces=NS))
    assert ids == [f"oai:granary.test:{paths[1].stem}"]
    assert set(dates) == {since}
    later, _ = _walk(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": since})
    assert later == [f"oai:granary.test:{paths[2].stem}"]


def test_a_list_whose_rest_all_changed_goes_on_below_a_fresh_watermark(settings, engine, registry):
    """Nothing is left below the carried watermark after the cursor (everything after it was
    re-written): the page reads the watermark again instead of ending the harvest in an error."""
    paths, client = _one_a_page(settings, engine, registry)
    first = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    since = first.findtext("oai:responseDate", namespaces=NS)
    time.sleep(1.1)
    writes.write_records(engine, 60, [_changed_record(registry, p, "re-ingested") for p in paths[1:]])
    ids, dates = _walk(client, verb="ListIdentifiers",
                       resumptionToken=first.findtext(".//oai:resumptionToken", namespaces=NS))
    assert sorted(ids) == [f"oai:granary.test:{p.stem}" for p in paths[1:]]
    assert all(d > since for d in dates)
