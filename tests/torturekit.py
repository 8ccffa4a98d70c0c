"""Torture testing: writers and harvesters at once; every harvester must end with the store.

Shared by tests/test_torture.py (a few seconds, in the normal suite) and
tests/stress/torture.py (minutes, several writer processes, run by hand):

- `Writer` makes one random change per `step()`: adds and updates (sometimes
  pausing between taking its stamp and committing, as slow writers do), set
  changes, withdrawals through the store's write API, and PUTs and DELETEs
  through the REST API with a bearer token.
- `Harvester` does what aggregators do: a full ListRecords harvest following
  resumptionTokens, then incremental harvests with `from` = a responseDate of
  its previous harvest (the first page's or the last page's), applying deletions.
- `store_view` and `differences` compare a harvester's copy with the store:
  identifiers, datestamps, deleted flags, metadata (canonical bytes) and, for a
  set harvest, the set's membership.
- `production_server` runs the real `granary serve --workers N` (gunicorn).
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa
from lxml import etree

from metadata.safe_xml import parse_xml
from repository.db.tables import disseminations, record_sets, record_sources, records, set_departures, sets
from repository.ingest.prepare import prepare
from repository.oai.dates import datestamp
from repository.store import writes
from repository.store.errors import ConcurrentCreate, RecordNotFound
from repository.store.rules import compile_rule
from repository.store.sets import split_specs
from tests.shared import CORPUS

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
REPOSITORY_ID = "granary.test"
GRANARY = Path(sys.executable).with_name("granary")
EXPLICIT_SETS = (("a", "A"), ("b", "B"), ("a:c", "A, part C"))
RULE_SET = ("r", "Even titles", '{"field": "title", "contains": "even"}')  # membership follows the content
RULES = ('{"field": "title", "contains": "even"}', '{"field": "title", "contains": "odd"}')
TIMEOUT_S = 120

MOVED = "(records that joined or left set r as its rule changed)"  # in Writer.counts, not a write
Entry = tuple[str, bool, tuple[str, ...], bytes | None]  # datestamp, deleted, setSpecs, canonical metadata


# --- the store before the torture ------------------------------------------------------------

def mods_sources(n: int = 12) -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.glob("mods/stanford-*.xml"))[:n]]


def retitled(data: bytes, title: str) -> bytes:
    return re.sub(rb"<title>[^<]*</title>", f"<title>{title}</title>".encode(), data, count=1)


def prepared(registry, data: bytes, local: str, sets: frozenset[str], fmt: str = "mods") -> writes.PreparedRecord:
    """A record whose memberships become exactly `sets`."""
    root = parse_xml(data, local).getroot()
    return replace(prepare(registry, registry.format(fmt), root, local, data, sets, local), replace_sets=True)


def set_up_store(engine, registry, lease_s: int, initial: int) -> None:
    """The sets (a hierarchy and a query-defined set) and records t0..t{initial-1}."""
    for spec, name in EXPLICIT_SETS:
        writes.add_set(engine, lease_s, spec, name, None)
    writes.add_set(engine, lease_s, RULE_SET[0], RULE_SET[1], None, RULE_SET[2])
    sources = mods_sources()
    writes.write_records(engine, lease_s, [prepared(registry, retitled(sources[i % len(sources)], f"first {i} even"),
                                                    f"t{i}", frozenset({"a"} if i % 2 else set()))
                                           for i in range(initial)])


# --- writers ---------------------------------------------------------------------------------

@dataclass
class Writer:
    """One random change per step() to records t0..t{pool-1}; `counts` says what it did."""

    engine: sa.Engine
    registry: object
    seed: int
    pool: int
    api_root: str | None = None   # http://host:port of a server: some changes go through /api
    token: str | None = None
    lease_s: int = 60
    max_pause_s: float = 0.6      # the longest pause between taking a stamp and committing
    rule_every: int = 0           # every n-th step changes the rule of set r (its members move)
    counts: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.sources = mods_sources()
        self.n = 0

    def step(self) -> None:
        self.n += 1
        local = f"t{self.rng.randrange(self.pool)}"
        op = self.rng.random()
        if self.rule_every and self.n % self.rule_every == 0:
            moved = writes.set_rule(self.engine, self.lease_s, RULE_SET[0], self.rng.choice(RULES))
            self.counts["store set rule"] += 1
            self.counts[MOVED] += moved
        elif self.api_root and op < 0.3:
            self._through_api(local)
        elif op < 0.42:
            self._delete(local)
        elif op < 0.57:
            self._reset(local)
        else:
            self._write(local, self._new_content(), "write")

    def writes(self) -> int:
        return writes_made(self.counts)

    def _sets(self) -> frozenset[str]:
        return frozenset(self.rng.sample([s for s, _ in EXPLICIT_SETS], self.rng.randrange(3)))

    def _new_content(self) -> bytes:
        parity = self.rng.choice(["even", "odd"])
        return retitled(self.rng.choice(self.sources), f"writer {self.seed} change {self.n} {parity}")

    def _pause(self) -> float:
        return self.rng.uniform(0, self.max_pause_s) if self.rng.random() < 0.5 else 0.0

    def _write(self, local: str, data: bytes, kind: str, fmt: str = "mods") -> None:
        record = prepared(self.registry, data, local, self._sets(), fmt)
        pause = self._pause()
        for attempt in range(5):  # as a client told "try again" would
            try:
                summary = writes.write_records(self.engine, self.lease_s, [record],
                                               then=lambda conn, now, summary: time.sleep(pause))
                break
            except ConcurrentCreate:  # another writer created it first (PostgreSQL)
                if attempt == 4:
                    raise
        outcome = "added" if summary.added else "updated" if summary.updated else "unchanged"
        self.counts[f"store {kind}: {outcome}"] += 1

    def _reset(self, local: str) -> None:
        """The same metadata in (perhaps) other sets: only the header changes."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(record_sources.c.native_xml, records.c.native_format, records.c.deleted)
                               .join(records, records.c.id == record_sources.c.record_id)
                               .where(records.c.local_id == local)).first()
        if row is None or row.deleted:
            self._write(local, self._new_content(), "write")
        else:
            self._write(local, bytes(row.native_xml), "set change", row.native_format)

    def _delete(self, local: str) -> None:
        pause = self._pause()
        try:
            changed = writes.run_write(self.engine, self.lease_s, lambda conn, now: (
                writes.tombstone(conn, now, local), time.sleep(pause))[0])
        except RecordNotFound:
            self.counts["store delete: no such record"] += 1
            return
        self.counts["store delete: " + ("withdrawn" if changed else "already withdrawn")] += 1

    def _through_api(self, local: str) -> None:
        url = f"{self.api_root}/api/records/{local}"
        op = self.rng.random()
        if op < 0.3:
            self.counts[f"api DELETE {self._request('DELETE', url)}"] += 1
            return
        sets = sorted(self._sets())
        if op < 0.45:  # a Dublin Core record: native oai_dc, crosswalked to MODS
            body = json.dumps({"title": f"api {self.seed} change {self.n} {self.rng.choice(['even', 'odd'])}",
                               "creator": "Torture, Test", "sets": sets}).encode()
            status = self._request("PUT", url, body, "application/json")
        else:
            status = self._request("PUT", f"{url}?{urllib.parse.urlencode({'sets': ','.join(sets)})}",
                                   self._new_content(), "application/mods+xml")
        self.counts[f"api PUT {status}"] += 1

    def _request(self, method: str, url: str, body: bytes | None = None, content_type: str | None = None) -> int:
        headers = {"Authorization": f"Bearer {self.token}"} | ({"Content-Type": content_type} if content_type else {})
        for attempt in range(5):
            try:
                with urllib.request.urlopen(urllib.request.Request(url, body, headers, method=method),
                                            timeout=TIMEOUT_S) as resp:
                    return resp.status
            except urllib.error.HTTPError as exc:
                detail = exc.read()
                if exc.code == 409 and attempt < 4:  # created by another request at the same time
                    continue
                if method == "DELETE" and exc.code == 404:  # the random walk picked a record not made yet
                    return 404
                raise AssertionError(f"{method} {url}: {exc.code} {detail[:500]!r}") from None
        raise AssertionError("unreachable")


def writes_made(counts: Counter) -> int:
    return sum(n for kind, n in counts.items() if kind != MOVED)


# --- harvesters ------------------------------------------------------------------------------

@dataclass
class Harvester:
    """An aggregator's copy of the repository (or of one set) in one metadata format."""

    base: str                     # the OAI-PMH endpoint
    prefix: str = "oai_dc"
    set_spec: str | None = None
    keep: str = "first"           # which responseDate of a harvest is the next `from`: first or last
    fresh_every: int = 0          # start over with an empty copy and a full harvest every n harvests
    copy: dict[str, Entry] = field(default_factory=dict)
    since: str | None = None
    full: int = 0
    incremental: int = 0
    requests: int = 0
    received: int = 0

    def __str__(self) -> str:
        return f"{self.prefix} {'set ' + self.set_spec if self.set_spec else 'all'}, from = {self.keep} responseDate"

    def harvest(self) -> None:
        """One complete list: a full harvest the first time, then from the kept responseDate."""
        if self.fresh_every and self.full + self.incremental and (self.full + self.incremental) % self.fresh_every == 0:
            self.copy, self.since = {}, None
        params = {"verb": "ListRecords", "metadataPrefix": self.prefix}
        params |= {"set": self.set_spec} if self.set_spec else {}
        params |= {"from": self.since} if self.since else {}
        dates = []
        while True:
            root = self._get(params)
            dates.append(root.findtext(f"{OAI}responseDate"))
            error = root.find(f"{OAI}error")
            if error is not None:
                assert error.get("code") == "noRecordsMatch", etree.tostring(error)
                break
            self._apply(root.findall(f"{OAI}ListRecords/{OAI}record"))
            token = root.findtext(f"{OAI}ListRecords/{OAI}resumptionToken")
            if not token:
                break
            params = {"verb": "ListRecords", "resumptionToken": token}
        if self.since:
            self.incremental += 1
        else:
            self.full += 1
        self.since = dates[0] if self.keep == "first" else dates[-1]

    def _get(self, params: dict) -> etree._Element:
        self.requests += 1
        with urllib.request.urlopen(f"{self.base}?{urllib.parse.urlencode(params)}", timeout=TIMEOUT_S) as resp:
            return etree.fromstring(resp.read())

    def _apply(self, recs: list[etree._Element]) -> None:
        for rec in recs:
            header = rec.find(f"{OAI}header")
            meta = rec.find(f"{OAI}metadata")
            payload = canonical(meta[0]) if meta is not None else None
            self.copy[header.findtext(f"{OAI}identifier")] = (
                header.findtext(f"{OAI}datestamp"), header.get("status") == "deleted",
                tuple(sorted(e.text for e in header.findall(f"{OAI}setSpec"))), payload)
            self.received += 1


def harvest_until(harvester: Harvester, writers_done: Callable[[], bool], errors: list) -> None:
    """A full harvest, incremental ones while the writers write, then two more to catch up
    (the first of which starts after the last write), as an aggregator's next runs would."""
    try:
        harvester.harvest()
        while not writers_done():
            harvester.harvest()
        for _ in range(2):
            harvester.harvest()
    except Exception as exc:  # surfaced by the caller
        errors.append(exc)


def harvesters(base: str, n: int) -> list[Harvester]:
    """n harvesters cycling through the ways aggregators harvest."""
    profiles = [dict(prefix="oai_dc", keep="first"), dict(prefix="mods", keep="last", fresh_every=40),
                dict(prefix="oai_dc", set_spec="a", keep="last"),
                dict(prefix="mods", set_spec="r", keep="first", fresh_every=40),
                dict(prefix="mods", set_spec="a:c", keep="last"), dict(prefix="oai_dc", set_spec="b", keep="first")]
    return [Harvester(base, **profiles[i % len(profiles)]) for i in range(n)]


# --- the comparison ----------------------------------------------------------------------------

def canonical(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


def identifier(local_id: str) -> str:
    return f"oai:{REPOSITORY_ID}:{local_id}"


def store_view(engine, prefix: str, set_spec: str | None = None) -> tuple[dict[str, Entry], dict[str, str]]:
    """What a harvest of the whole store (or of `set_spec`) in `prefix` must end with: the
    records (members), and for a set the datestamps of the records that left it."""
    r, d = records.c, disseminations.c
    stmt = (sa.select(r.local_id, r.stamp, r.deleted, r.set_specs, d.xml)
            .outerjoin(disseminations, (d.record_id == r.id) & (d.prefix == prefix)))
    departed: dict[str, str] = {}
    with engine.connect() as conn:
        if set_spec is not None:
            stmt = stmt.where(r.id.in_(sa.select(record_sets.c.record_id).where(record_sets.c.spec == set_spec)))
            departed = {identifier(local): datestamp(int(stamp)) for local, stamp in conn.execute(
                sa.select(r.local_id, set_departures.c.stamp).join(records, r.id == set_departures.c.record_id)
                .where(set_departures.c.spec == set_spec))}
        rows = conn.execute(stmt).all()
    expected = {identifier(row.local_id): (datestamp(int(row.stamp)), bool(row.deleted),
                                           tuple(sorted(split_specs(row.set_specs))),
                                           None if row.deleted else canonical(etree.fromstring(row.xml)))
                for row in rows}
    return expected, departed


def differences(copy: dict[str, Entry], expected: dict[str, Entry], departed: dict[str, str]) -> list[str]:
    """How a harvester's copy differs from the store; a record that left a harvested set must
    be in the copy as deleted at the time it left, or not at all."""
    out = []
    for key in sorted(set(copy) | set(expected)):
        have, want = copy.get(key), expected.get(key)
        if want is None and key in departed:  # it left the set: a deletion to the set's harvesters
            # (whose setSpecs are the record's memberships when it was listed: they may have moved since)
            want = (departed[key], True, have[2], None)
        if have != want:
            out.append(f"{key}: harvested {_brief(have)}, store has {_brief(want)}")
    return out


def rule_disagreements(engine) -> list[str]:
    """Live records whose membership of the query-defined set disagrees with its rule now."""
    with engine.connect() as conn:
        rule = conn.execute(sa.select(sets.c.rule).where(sets.c.spec == RULE_SET[0])).scalar_one()
        rows = conn.execute(sa.select(records.c.local_id, records.c.set_specs, disseminations.c.xml)
                            .join(disseminations, (disseminations.c.record_id == records.c.id)
                                  & (disseminations.c.prefix == "mods"))
                            .where(records.c.deleted.is_(False))).all()
    matches = compile_rule(rule)
    return [f"{row.local_id}: sets {row.set_specs!r}, rule {rule}" for row in rows
            if (RULE_SET[0] in split_specs(row.set_specs)) != matches(etree.fromstring(row.xml))]


def _brief(entry: Entry | None) -> str:
    if entry is None:
        return "nothing"
    title = None
    if entry[3]:
        root = etree.fromstring(entry[3])
        title = root.findtext(f"{DC}title") or root.findtext(".//{http://www.loc.gov/mods/v3}title")
    return f"{entry[0]} {'deleted' if entry[1] else 'live'} sets {' '.join(entry[2]) or '-'} {title!r}"


# --- the production server ---------------------------------------------------------------------

def server_env(db_url: str, page_size: int, **extra: str) -> dict[str, str]:
    """A deployment's environment: no GRANARY_* setting of the caller's shell leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANARY_")}
    return env | {"GRANARY_DATABASE_URL": db_url, "GRANARY_SECRET_KEY": "torture-secret",
                  "GRANARY_REPOSITORY_IDENTIFIER": REPOSITORY_ID, "GRANARY_ADMIN_EMAIL": "librarian@granary.test",
                  "GRANARY_PAGE_SIZE": str(page_size), "GRANARY_DELETES_IN_SETS": "on",
                  "PYTHONUNBUFFERED": "1", **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def production_server(env: dict[str, str], workers: int, log: Path, cwd: Path) -> Iterator[str]:
    """`granary serve --workers N` (gunicorn) on a free port; yields its root URL."""
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(GRANARY), "serve", "--port", str(port), "--workers", str(workers)],
                                env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_until_serving(proc, root, log)
            yield root
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_serving(proc: subprocess.Popen, root: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"granary serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):  # not listening yet
            with urllib.request.urlopen(f"{root}/oai?verb=Identify", timeout=5) as resp:
                if resp.status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"granary serve did not answer within 60 s:\n{log.read_text()[-3000:]}")
