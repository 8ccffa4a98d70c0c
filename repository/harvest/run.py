"""The harvest loop: ListRecords from another repository, one transaction a page.

Where a harvest stands is kept in `harvest_state`, one row per source (base
URL, metadataPrefix, set). Each page's records, its deletions and the new
state (the page's resumption token, the date the harvest started) are written
in one transaction, so whatever stops a harvest (a crash, ^C, the network)
leaves the store and the state agreeing: the next run continues from the saved
token. If the token has expired upstream (badResumptionToken), the list starts
again from the same `from`; records are keyed by local identifier and writing
an unchanged record changes nothing, so pages seen twice add nothing twice.

When the list ends, the responseDate of its FIRST page becomes the source's
`last_response_date`, and the next run without --from asks only for what
changed since. The first page's date, not the last: a record changed upstream
while the walk was under way may have moved behind the cursor and been missed;
asking again from when the walk began fetches it next time (the overlap costs
a few no-op writes, never a lost change).

Local identifiers: the upstream identifier's local part when it has the
oai-identifier syntax (`oai:<repository>:<local>`), else the whole identifier;
escaped as every local identifier here is (normalize_local_id). A record here
is only overwritten or deleted by the harvest of the same origin (its
provenance names the same baseURL and identifier): a collision with a record
ingested here, or harvested from elsewhere, is reported, never overwritten.

An invalid upstream record refuses its whole page: nothing of it is written
and the state stays where it was, so after a fix the next run resumes at that
page. With `skip_invalid` such records are skipped and reported instead.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import Connection, Engine, insert, select, update

from crosswalks.registry import Registry
from metadata.formats import MetadataFormat
from repository.config import Settings
from repository.db.tables import harvest_state, records
from repository.harvest import provenance
from repository.harvest.client import (
    BadResumptionToken,
    Client,
    HarvestError,
    NoRecordsMatch,
    OAIProtocolError,
    Page,
    TransportError,
)
from repository.ingest.extract import Problem, issue_problem
from repository.ingest.prepare import CrosswalkOutputError, render
from repository.oai.identifiers import normalize_local_id
from repository.store import queries, writes
from repository.store.sets import split_specs

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_O = f"{{{OAI_NS}}}"


@dataclass(frozen=True)
class HarvestOptions:
    base_url: str
    prefix: str = "oai_dc"
    set_spec: str | None = None
    from_: str | None = None
    into_set: str | None = None
    dry_run: bool = False
    skip_invalid: bool = False
    max_pages: int | None = None   # stop after this many pages, resumable like an interruption
    restart: bool = False          # forget a saved resumption token and start the list again


@dataclass
class HarvestReport:
    pages: int = 0
    received: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    deletions_passed_over: int = 0   # deleted upstream, but not held here (or already a tombstone)
    skipped: list[Problem] = field(default_factory=list)
    from_: str | None = None
    resumed: bool = False
    restarted: bool = False          # the saved token was refused upstream; the list began again
    complete: bool = False
    started: str | None = None       # responseDate of the first page
    retries: int = 0
    dry_run: bool = False


class HarvestRefused(HarvestError):
    """A page held invalid records; nothing of it was written and the state is unchanged."""

    def __init__(self, problems: list[Problem], report: HarvestReport) -> None:
        self.problems = problems
        self.report = report
        super().__init__(f"{len(problems)} problem(s) in page {report.pages}; nothing of that page was written")


def local_id_for(identifier: str) -> str:
    """The local identifier a harvested record gets here (see the module docstring)."""
    parts = identifier.split(":", 2)
    if len(parts) == 3 and parts[0].lower() == "oai" and parts[1] and parts[2].strip():
        return normalize_local_id(parts[2])
    return normalize_local_id(identifier)


def _text(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- staging one page ----------------------------------------------------------------------

@dataclass
class _StagedPage:
    records: list[writes.PreparedRecord] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)        # local ids to tombstone
    passed_over: int = 0
    problems: list[Problem] = field(default_factory=list)
    existing: dict[str, object] = field(default_factory=dict)  # local_id -> stored row


@dataclass(frozen=True)
class _Context:
    options: HarvestOptions
    registry: Registry
    engine: Engine


def _existing(engine: Engine, local_ids: list[str]) -> dict[str, object]:
    if not local_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(records.c.local_id, records.c.content_hash, records.c.deleted,
                                   records.c.set_specs, records.c.about)
                            .where(records.c.local_id.in_(local_ids))).all()
    return {r.local_id: r for r in rows}


def _owner_problem(ctx: _Context, row, local: str, identifier: str) -> str | None:
    """Why the stored record `row` is not this harvest's to change, or None if it is."""
    origin = provenance.origin_of(row.about)
    if origin is None:
        return (f"local identifier {local!r} is already used by a record that was not harvested "
                f"(ingested here); it is not overwritten")
    if (origin.base_url, origin.identifier) != (ctx.options.base_url, identifier):
        return (f"local identifier {local!r} is already used by {origin.identifier} harvested from "
                f"{origin.base_url}; it is not overwritten")
    return None


def _renderer(registry: Registry, fmt: MetadataFormat, root: etree._Element, native: bytes, source: str,
              local: str, done: dict | None):
    if done is not None:
        return lambda: done
    return lambda: render(registry, fmt, root, native, source, local)


def _stage(ctx: _Context, page: Page) -> _StagedPage:
    """Validate and prepare a page's records; nothing is written here."""
    out = _StagedPage()
    harvest_date = provenance.utc_date(page.response_date) or _now()
    by_local: dict[str, tuple[str, etree._Element]] = {}
    for rec in page.records:
        header = rec.find(f"{_O}header")
        identifier = _text(header.find(f"{_O}identifier")) if header is not None else ""
        if not identifier:
            out.problems.append(Problem(page.url, "record has no header identifier", None, rec.sourceline))
            continue
        local = local_id_for(identifier)
        earlier = by_local.get(local)
        if earlier is not None and earlier[0] != identifier:
            out.problems.append(Problem(page.url, f"{identifier} and {earlier[0]} both become local identifier "
                                                  f"{local!r}", identifier, rec.sourceline))
            continue
        by_local[local] = (identifier, rec)   # a record twice in a page: the later one counts
    out.existing = _existing(ctx.engine, list(by_local))
    for local, (identifier, rec) in by_local.items():
        header = rec.find(f"{_O}header")
        row = out.existing.get(local)
        if header.get("status") == "deleted":
            if row is None or row.deleted or _owner_problem(ctx, row, local, identifier):
                out.passed_over += 1
            else:
                out.deletions.append(local)
            continue
        prepared = _prepare(ctx, page, rec, header, identifier, local, harvest_date, row, out.problems)
        if prepared is not None:
            out.records.append(prepared)
    return out


def _prepare(ctx: _Context, page: Page, rec: etree._Element, header: etree._Element, identifier: str,
             local: str, harvest_date: str, row, problems: list[Problem]) -> writes.PreparedRecord | None:
    def problem(message: str, line: int | None) -> None:
        problems.append(Problem(page.url, message, identifier, line))

    if row is not None and (why := _owner_problem(ctx, row, local, identifier)):
        problem(why, rec.sourceline)
        return None
    raw_datestamp = _text(header.find(f"{_O}datestamp"))
    datestamp = provenance.utc_date(raw_datestamp)
    if datestamp is None:
        problem(f"header datestamp {raw_datestamp!r} is not a UTC date", header.sourceline)
        return None
    meta = rec.find(f"{_O}metadata")
    payload = next((el for el in meta if isinstance(el.tag, str)), None) if meta is not None else None
    if payload is None:
        problem("record has no metadata", rec.sourceline)
        return None
    fmt = ctx.registry.format_for_root(payload.tag)
    if fmt is None or payload.tag != fmt.root_tag:
        problem(f"metadata {payload.tag} is not a record of a known format", payload.sourceline)
        return None
    issues = fmt.validate(payload)
    if issues:
        problems.extend(issue_problem(page.url, identifier, i) for i in issues[:5])
        return None
    native = fmt.serialize(payload)
    digest = hashlib.sha256(native).hexdigest()
    rendered = None
    if row is None or row.deleted or row.content_hash != digest:
        try:   # rendered now, so a crosswalk failure is this record's problem, not the page's write
            rendered = render(ctx.registry, fmt, payload, native, page.url, local)
        except CrosswalkOutputError as exc:
            problem(exc.message, payload.sourceline)
            return None
    origin = provenance.Origin(ctx.options.base_url, identifier, datestamp, etree.QName(payload).namespace or "",
                               harvest_date, False, provenance.upstream_origin(rec.iterfind(f"{_O}about")))
    sets = frozenset({ctx.options.into_set}) if ctx.options.into_set else frozenset()
    return writes.PreparedRecord(local, fmt.prefix, etree.tostring(payload, encoding="utf-8"), digest,
                                 _renderer(ctx.registry, fmt, payload, native, page.url, local, rendered), sets,
                                 about=provenance.about_container(origin))


# --- harvest state -------------------------------------------------------------------------

def _key(options: HarvestOptions) -> dict[str, str]:
    return {"base_url": options.base_url, "prefix": options.prefix, "set_spec": options.set_spec or ""}


def load_state(engine: Engine, options: HarvestOptions):
    """The saved state of this source: (last_response_date, resumption_token, harvest_started), or None."""
    key = _key(options)
    c = harvest_state.c
    with engine.connect() as conn:
        return conn.execute(select(c.last_response_date, c.resumption_token, c.harvest_started)
                            .where(c.base_url == key["base_url"], c.prefix == key["prefix"],
                                   c.set_spec == key["set_spec"])).first()


def _save_state(conn: Connection, options: HarvestOptions, values: dict) -> None:
    key = _key(options)
    c = harvest_state.c
    where = (c.base_url == key["base_url"], c.prefix == key["prefix"], c.set_spec == key["set_spec"])
    if conn.execute(select(c.id).where(*where)).first() is None:
        conn.execute(insert(harvest_state).values(**key, **values))
    else:
        conn.execute(update(harvest_state).where(*where).values(**values))


# --- the loop ------------------------------------------------------------------------------

def _granularity(client: Client) -> str:
    """The repository's datestamp granularity; the day, which every repository accepts, if Identify fails."""
    try:
        resp = client.identify()
    except TransportError:
        raise
    except HarvestError:
        return "YYYY-MM-DD"
    value = _text(resp.root.find(f"{_O}Identify/{_O}granularity"))
    return value if value == "YYYY-MM-DDThh:mm:ssZ" else "YYYY-MM-DD"


def check_from(value: str) -> str:
    """A --from value as OAI-PMH wants it (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)."""
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        with contextlib.suppress(ValueError):
            datetime.strptime(value, fmt)
            return value
    raise HarvestError(f"--from {value!r} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")


def _count_dry(report: HarvestReport, staged: _StagedPage) -> None:
    for p in staged.records:
        row = staged.existing.get(p.local_id)
        if row is None:
            report.added += 1
        elif row.deleted or row.content_hash != p.content_hash or not p.sets <= split_specs(row.set_specs):
            report.updated += 1
        else:
            report.unchanged += 1
    report.deleted += len(staged.deletions)


def harvest(options: HarvestOptions, settings: Settings, engine: Engine, registry: Registry,
            client: Client | None = None, on_page: Callable[[Page, HarvestReport], None] | None = None,
            note: Callable[[str], None] | None = None) -> HarvestReport:
    """Harvest `options.base_url` into the store; see the module docstring."""
    note = note or (lambda message: None)
    client = client or Client(options.base_url, max_bytes=settings.max_xml_bytes)
    if options.prefix not in registry.formats:
        raise HarvestError(f"metadataPrefix {options.prefix!r} is not a format this repository keeps "
                           f"({', '.join(sorted(registry.formats))})")
    if options.into_set:
        with engine.connect() as conn:
            if not queries.set_exists(conn, options.into_set):
                raise HarvestError(f"set {options.into_set!r} does not exist; create it first with "
                                   f"`granary sets add {options.into_set} NAME`")
    ctx = _Context(options, registry, engine)
    report = HarvestReport(dry_run=options.dry_run)
    state = load_state(engine, options)
    from_ = check_from(options.from_) if options.from_ else (state.last_response_date if state else None)
    if from_ and _granularity(client) == "YYYY-MM-DD":
        from_ = from_[:10]
    report.from_ = from_
    token = state.resumption_token if state is not None and not options.restart else None
    started = state.harvest_started if token else None
    report.resumed = token is not None
    if token:
        note(f"resuming the harvest interrupted after the page the saved token continues from "
             f"(begun {started})")
    elif options.restart and state is not None and state.resumption_token:
        note("--restart: the saved resumption token is forgotten; the list starts again")
    try:
        while True:
            if options.max_pages is not None and report.pages >= options.max_pages:
                note(f"stopped after {report.pages} page(s) (--max-pages); the next run resumes here")
                return report
            try:
                page = client.list_records(options.prefix, options.set_spec, from_, token=token)
            except NoRecordsMatch as exc:
                page = Page(exc.url, exc.response_date or "", [], None)
            except BadResumptionToken:
                if token is None or report.restarted:   # restart once; a second refusal is reported
                    raise
                note("the resumption token is no longer valid upstream; starting the list again"
                     + (f" from {from_}" if from_ else ""))
                token, started, report.restarted = None, None, True
                continue
            report.pages += 1
            report.received += len(page.records)
            staged = _stage(ctx, page)
            if staged.problems:
                if not options.skip_invalid:
                    raise HarvestRefused(staged.problems, report)
                report.skipped += staged.problems
            started = started or page.response_date or None
            report.started = started
            done = page.token is None
            if done:
                values = {"resumption_token": None, "harvest_started": None}
                if started:
                    values["last_response_date"] = started
            else:
                values = {"resumption_token": page.token, "harvest_started": started}
            report.deletions_passed_over += staged.passed_over
            if options.dry_run:
                _count_dry(report, staged)
            else:
                _write_page(settings, engine, options, staged, values, report)
            if on_page:
                on_page(page, report)
            if done:
                report.complete = True
                return report
            token = page.token
    finally:
        report.retries = client.retries


def _write_page(settings: Settings, engine: Engine, options: HarvestOptions, staged: _StagedPage,
                values: dict, report: HarvestReport) -> None:
    deleted: list[str] = []

    def then(conn: Connection, now: int, summary: writes.WriteSummary) -> None:
        # A deletion of a record this store does not have (never harvested, or removed) is passed over.
        deleted.extend(writes.withdraw(conn, now, staged.deletions, unknown_ok=True).withdrawn)
        _save_state(conn, options, values)

    summary = writes.write_records(engine, settings.write_lease_timeout_seconds, staged.records, then=then)
    report.added += summary.added
    report.updated += summary.updated
    report.unchanged += summary.unchanged
    report.deleted += len(deleted)
    report.deletions_passed_over += len(staged.deletions) - len(deleted)


__all__ = ["HarvestError", "HarvestOptions", "HarvestRefused", "HarvestReport", "OAIProtocolError", "harvest",
           "load_state", "local_id_for"]
