"""Writers and harvesters at the same time: every harvester ends with exactly the store.

Two writer threads add, update, re-set and withdraw records while two harvester
threads run a full harvest and then incremental harvests from the previous
responseDate, over real HTTP, the way aggregators do. When writing stops and
the harvesters catch up, each harvester's copy must equal the store: the same
identifiers, datestamps, deleted flags and metadata. The short variant runs in
the normal suite on SQLite and PostgreSQL.
"""
from __future__ import annotations

import contextlib
import random
import re
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import replace

import sqlalchemy as sa
from lxml import etree

from metadata.safe_xml import parse_xml
from repository.db.tables import disseminations, records
from repository.ingest.prepare import prepare
from repository.store import writes
from repository.store.errors import ConcurrentCreate, RecordNotFound
from tests.fixtures import corpus_paths
from tests.live import serving

OAI = "{http://www.openarchives.org/OAI/2.0/}"
WRITES_PER_WRITER = 12


def _prepared(registry, path, local: str, title: str, sets: frozenset[str]):
    data = re.sub(rb"<title>[^<]*</title>", f"<title>{title}</title>".encode(), path.read_bytes(), count=1)
    root = parse_xml(data, local).getroot()
    return replace(prepare(registry, registry.format("mods"), root, local, data, sets, local), replace_sets=True)


def _writer(engine, registry, seed: int, done: threading.Event, errors: list) -> None:
    rng = random.Random(seed)
    paths = corpus_paths("mods/stanford-*.xml")[:12]
    try:
        for n in range(WRITES_PER_WRITER):
            local = f"t{rng.randrange(30)}"
            op = rng.random()
            if op < 0.15:
                with contextlib.suppress(RecordNotFound):  # not created yet: the random walk missed
                    writes.delete_record(engine, 60, local)
            else:
                sets = frozenset(rng.sample(["a", "b", "a:c"], rng.randrange(3)))
                record = _prepared(registry, rng.choice(paths), local, f"writer {seed} change {n}", sets)
                pause = rng.uniform(0, 0.6)  # between taking its stamp and committing, as slow writers do
                render = record.render
                record = replace(record, render=lambda render=render, pause=pause: (time.sleep(pause), render())[1])
                for attempt in range(5):  # as a client told "try again" would
                    try:
                        writes.write_records(engine, 60, [record])
                        break
                    except ConcurrentCreate:
                        if attempt == 4:
                            raise
    except Exception as exc:  # surfaced by the test body
        errors.append(exc)
    finally:
        done.set()


def _harvest(base: str, since: str | None) -> tuple[str, list[etree._Element]]:
    """One complete ListRecords (oai_dc) list; returns the first responseDate and the records."""
    params = {"verb": "ListRecords", "metadataPrefix": "oai_dc"} | ({"from": since} if since else {})
    first_date, out = None, []
    while True:
        with urllib.request.urlopen(f"{base}?{urllib.parse.urlencode(params)}", timeout=30) as resp:
            root = etree.fromstring(resp.read())
        first_date = first_date or root.findtext(f"{OAI}responseDate")
        error = root.find(f"{OAI}error")
        if error is not None:
            assert error.get("code") == "noRecordsMatch", etree.tostring(error)
            return first_date, out
        out += root.findall(f"{OAI}ListRecords/{OAI}record")
        token = root.findtext(f"{OAI}ListRecords/{OAI}resumptionToken")
        if not token:
            return first_date, out
        params = {"verb": "ListRecords", "resumptionToken": token}


def _apply(copy: dict, recs: list[etree._Element]) -> None:
    for rec in recs:
        header = rec.find(f"{OAI}header")
        meta = rec.find(f"{OAI}metadata")
        payload = etree.tostring(meta[0], method="c14n", exclusive=True) if meta is not None else None
        copy[header.findtext(f"{OAI}identifier")] = (header.findtext(f"{OAI}datestamp"),
                                                     header.get("status") == "deleted", payload)


def _harvester(base: str, writers_done: list[threading.Event], result: dict, errors: list) -> None:
    try:
        since, recs = _harvest(base, None)
        _apply(result, recs)
        while not all(d.is_set() for d in writers_done):
            since_next, recs = _harvest(base, since)
            _apply(result, recs)
            since = since_next
        for _ in range(2):  # catch up after the last write, as an aggregator's next run would
            since_next, recs = _harvest(base, since)
            _apply(result, recs)
            since = since_next
    except Exception as exc:
        errors.append(exc)


def _store(engine) -> dict:
    from datetime import UTC, datetime

    with engine.connect() as conn:
        rows = conn.execute(sa.select(records.c.local_id, records.c.stamp, records.c.deleted, disseminations.c.xml)
                            .outerjoin(disseminations, (disseminations.c.record_id == records.c.id)
                                       & (disseminations.c.prefix == "oai_dc"))).all()
    return {f"oai:granary.test:{r.local_id}": (
        datetime.fromtimestamp(r.stamp // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), bool(r.deleted),
        None if r.deleted else etree.tostring(etree.fromstring(r.xml), method="c14n", exclusive=True)) for r in rows}


def test_concurrent_writers_never_make_a_harvester_miss_a_change(settings, engine, registry, app):
    for spec, name in (("a", "A"), ("b", "B"), ("a:c", "AC")):
        writes.add_set(engine, 60, spec, name, None)
    writes.write_records(engine, 60, [_prepared(registry, p, f"t{i}", "first", frozenset())
                                      for i, p in enumerate(corpus_paths("mods/stanford-*.xml")[:10])])
    errors: list = []
    done = [threading.Event(), threading.Event()]
    copies: list[dict] = [{}, {}]
    with serving(app) as root:
        base = f"{root}/oai"
        threads = [threading.Thread(target=_writer, args=(engine, registry, seed, done[seed], errors))
                   for seed in (0, 1)]
        threads += [threading.Thread(target=_harvester, args=(base, done, copies[i], errors)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        assert not any(t.is_alive() for t in threads), "a thread did not finish in time"
    assert not errors, errors
    store = _store(engine)
    assert len(store) > 10
    for copy in copies:
        wrong = {k: (copy.get(k, (None, None, b""))[:2], store.get(k, (None, None, b""))[:2],
                     _title(copy.get(k)), _title(store.get(k))) for k in set(copy) | set(store)
                 if copy.get(k) != store.get(k)}
        assert not wrong, f"the harvester's copy differs from the store: {wrong}"


def _title(entry) -> str | None:
    if not entry or not entry[2]:
        return None
    return etree.fromstring(entry[2]).findtext("{http://purl.org/dc/elements/1.1/}title")
