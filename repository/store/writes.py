"""All changes to records and sets, each in one transaction under a write lease.

A record's stamp moves exactly when what a harvester receives changes: its
metadata (compared as canonical bytes), its set memberships, or its deleted
flag. Stamps never go backwards: a new stamp is at least the old one plus one.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from metadata.safe_xml import parse_xml
from metadata.xmlchars import has_non_xml_chars
from repository.db.engine import db_now_us, write_transaction
from repository.db.tables import disseminations, record_sets, record_sources, records, repository_meta, sets
from repository.search.index import SearchDocument, reindex
from repository.store import clock, membership
from repository.store.bulk import insert_many
from repository.store.errors import ConcurrentCreate, PreconditionFailed, RecordNotFound, RecordsNotFound, SetError
from repository.store.rules import RuleError, compile_rule
from repository.store.rules import normalized as normalized_rule
from repository.store.sets import ancestors, is_valid_spec, join_specs, split_specs

T = TypeVar("T")


Disseminations = dict[str, tuple[bytes, str]]  # prefix -> (canonical xml, crosswalk version)


@dataclass(frozen=True)
class PreparedRecord:
    """A validated record. Its disseminations are rendered only if the store needs
    them: a re-ingested record whose content hash is unchanged skips the crosswalks."""

    local_id: str
    native_format: str
    native_xml: bytes
    content_hash: str
    render: Callable[[], Disseminations]
    sets: frozenset[str] = frozenset()
    replace_sets: bool = False       # the record's memberships become exactly `sets` (else: added to)
    if_stamp: int | None = None      # write only if the stored record's stamp is this (If-Match)
    if_absent: bool = False          # write only if no record has this local id yet (If-None-Match: *)
    search_doc: SearchDocument | None = None  # made ahead (in ingest's workers) for the search index
    # OAI <about> container(s) to serve after the metadata (provenance of a harvested record).
    # Written with the record when it is added or changed, never alone: what a harvester
    # receives must not change without the datestamp moving.
    about: bytes | None = None


@dataclass
class WriteSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def run_write(engine: Engine, lease_timeout_s: int, work: Callable[[Connection, int], T]) -> T:
    """Run `work(conn, now_us)` in one write transaction covered by a lease."""
    lease = clock.acquire_lease(engine)
    try:
        with write_transaction(engine) as conn:
            clock.purge_stale_leases(conn, lease_timeout_s)
            result = work(conn, db_now_us(conn))
            clock.release_lease(conn, lease)
        return result
    except BaseException:
        clock.release_lease_now(engine, lease)
        raise


# A write that changes at least this many records refreshes PostgreSQL's planner statistics.
ANALYZE_AFTER = 10_000
_ANALYZED = ("records", "record_sources", "record_sets", "disseminations", "search_documents")
_LISTED = ("records", "record_sets")  # what list pages are planned on: narrow rows, quick to sample
# Whether `records` was never analyzed; whether it has grown past 1.2 times (and 1 MB more than) its
# size at the last ANALYZE.
_STALE_SQL = ("SELECT reltuples < 0, pg_relation_size(oid) > 1.2 * relpages * current_setting('block_size')::int "
              "+ 1048576 FROM pg_class WHERE oid = 'records'::regclass")


def _refresh_statistics(engine: Engine, summary: WriteSummary) -> None:
    """ANALYZE after a write (PostgreSQL) when statistics are missing or stale, as autovacuum
    would if it were on and had got round to it: every table a write grew after the first
    write of records or a bulk one; the tables list pages are planned on once `records` has
    grown by a fifth (the XML tables and the search index take seconds to sample, and their
    lookups are by key). Without statistics the planner takes a set of 10,000 records for 10
    rows and sorts the whole set with its XML for a first page (31 ms instead of 5); with none
    at all it scans and sorts every record for every streamed list page; and statistics
    gathered when a store held one set group leave the others out of their common values."""
    if engine.dialect.name != "postgresql" or summary.added + summary.updated == 0:
        return
    with engine.connect() as conn:
        never, grown = conn.exec_driver_sql(_STALE_SQL).one()
        tables = _ANALYZED if never or summary.added + summary.updated >= ANALYZE_AFTER else _LISTED if grown else ()
        if tables:
            conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
            conn.commit()


def _check_sets_exist(conn: Connection, specs: set[str], rules: membership.Rules) -> None:
    if not specs:
        return
    found = set(conn.execute(select(sets.c.spec).where(sets.c.spec.in_(specs))).scalars())
    missing = sorted(specs - found)
    if missing:
        raise SetError(f"set {missing[0]!r} does not exist; create it first with `granary sets add {missing[0]} NAME`")
    by_rule = sorted(specs & rules.keys())
    if by_rule:
        raise SetError(f"set {by_rule[0]!r} is defined by a rule; records cannot be put in it by hand")


_DISSEMINATION_COLUMNS = ("record_id", "prefix", "xml", "crosswalk_version")
_RECORD_COLUMNS = ("local_id", "native_format", "content_hash", "stamp", "deleted", "set_specs",
                   "about")


def write_records(engine: Engine, lease_timeout_s: int, prepared: Iterable[PreparedRecord],
                  chunk_size: int = 500, progress: Callable[[int], None] | None = None,
                  then: Callable[[Connection, int, WriteSummary], None] | None = None) -> WriteSummary:
    """Add or update records atomically: all of them are written, or none.

    `then(conn, now, summary)` runs after the records, in the same transaction: a
    harvest records its deletions and where it stands together with a page's records."""
    def work(conn: Connection, now: int) -> WriteSummary:
        summary = WriteSummary()
        rules = membership.load_rules(conn)
        for chunk in _chunks(prepared, chunk_size):
            _check_sets_exist(conn, set().union(*(p.sets for p in chunk)), rules)
            _write_chunk(conn, now, chunk, summary, rules)
            if progress:
                progress(len(chunk))
        if then is not None:
            then(conn, now, summary)
        return summary

    summary = run_write(engine, lease_timeout_s, work)
    _refresh_statistics(engine, summary)
    return summary


def _dissemination_rows(record_id: int, diss: Disseminations) -> list[tuple]:
    return [(record_id, k, x, v) for k, (x, v) in diss.items()]


def insert_renderings(conn: Connection, rows: list[tuple]) -> None:
    """Insert (record_id, prefix, xml, crosswalk_version) rows format by format. Both
    databases lay rows out in about the order they are inserted (PostgreSQL may fill a gap
    an earlier insert left), so a batch's oai_dc renderings share pages with each other,
    not with its MODS ones, and a harvest or a GetRecord of one format reads only that
    format's pages."""
    insert_many(conn, disseminations.name, _DISSEMINATION_COLUMNS, sorted(rows, key=lambda row: (row[1], row[0])))


def _write_chunk(conn: Connection, now: int, chunk: list[PreparedRecord], summary: WriteSummary,
                 rules: membership.Rules) -> None:
    cols = records.c
    # FOR UPDATE: on PostgreSQL a concurrent writer of the same records waits here, then
    # sees the committed stamp, so If-Match cannot let two editors both win.
    existing = {row.local_id: row for row in conn.execute(
        select(cols.id, cols.local_id, cols.content_hash, cols.deleted, cols.set_specs, cols.stamp,
               record_sources.c.native_xml).join(record_sources, record_sources.c.record_id == cols.id)
        .where(cols.local_id.in_([p.local_id for p in chunk])).with_for_update(of=records))}
    for p in chunk:
        row = existing.get(p.local_id)
        if p.if_stamp is not None and (row is None or row.stamp != p.if_stamp):
            raise PreconditionFailed(p.local_id, None if row is None else row.stamp)
        if p.if_absent and row is not None:
            raise PreconditionFailed(p.local_id, row.stamp)
    rendered: dict[str, Disseminations] = {}

    def diss(p: PreparedRecord) -> Disseminations:
        if p.local_id not in rendered:
            rendered[p.local_id] = p.render()
        return rendered[p.local_id]

    def by_rule(p: PreparedRecord) -> set[str]:
        return membership.matching(rules, diss(p).get("mods", (None, ""))[0], p.local_id) if rules else set()

    new = [(p, set(p.sets) | by_rule(p)) for p in chunk if p.local_id not in existing]
    changed: list[tuple[PreparedRecord, object, set[str], bool]] = []
    sources: list[dict] = []  # new raw bytes of existing records
    for p in chunk:
        row = existing.get(p.local_id)
        if row is None:
            continue
        old = split_specs(row.set_specs)
        content_changed = row.content_hash != p.content_hash or row.deleted
        explicit = set(p.sets) if p.replace_sets else (old - rules.keys()) | set(p.sets)
        direct = explicit | (by_rule(p) if content_changed else old & rules.keys())
        if content_changed or direct != old:
            changed.append((p, row, direct, content_changed))
        else:
            summary.unchanged += 1
            if row.native_xml != p.native_xml:
                sources.append({"b_id": row.id, "native_xml": p.native_xml})

    member_changes: list[membership.MembershipChange] = []
    diss_rows: list[tuple] = []
    reindexed: list[int] = []  # records whose content (so whose search document) is new
    documents: dict[int, SearchDocument] = {}
    if new:
        try:
            insert_many(conn, records.name, _RECORD_COLUMNS, [
                (p.local_id, p.native_format, p.content_hash, now, False, join_specs(direct), p.about)
                for p, direct in new])
        except IntegrityError:
            # Another writer created one of these records after we looked (PostgreSQL).
            raise ConcurrentCreate([p.local_id for p, _ in new]) from None
        ids = dict(conn.execute(select(cols.local_id, cols.id)
                                .where(cols.local_id.in_([p.local_id for p, _ in new]))).all())
        insert_many(conn, record_sources.name, ("record_id", "native_xml"), [(ids[p.local_id], p.native_xml) for p, _ in new])
        for p, direct in new:
            rid = ids[p.local_id]
            reindexed.append(rid)
            if p.search_doc is not None:
                documents[rid] = p.search_doc
            member_changes.append(membership.MembershipChange(rid, None, frozenset(direct), now))
            diss_rows += _dissemination_rows(rid, diss(p))
            summary.added += 1
    if changed:
        updates = []
        for p, row, direct, content_changed in changed:
            stamp = max(now, row.stamp + 1)
            sources.append({"b_id": row.id, "native_xml": p.native_xml})
            updates.append({"b_id": row.id, "native_format": p.native_format, "content_hash": p.content_hash, "stamp": stamp, "deleted": False,
                            "set_specs": join_specs(direct), "about": p.about})
            member_changes.append(membership.MembershipChange(
                row.id, frozenset(split_specs(row.set_specs)), frozenset(direct), stamp))
            if content_changed:
                diss_rows += _dissemination_rows(row.id, diss(p))
                reindexed.append(row.id)
                if p.search_doc is not None:
                    documents[row.id] = p.search_doc
            summary.updated += 1
        conn.execute(update(records).where(records.c.id == bindparam("b_id")), updates)
        rerendered = [row.id for _, row, _, content_changed in changed if content_changed]
        if rerendered:
            conn.execute(delete(disseminations).where(disseminations.c.record_id.in_(rerendered)))
    if sources:
        conn.execute(update(record_sources).where(record_sources.c.record_id == bindparam("b_id")), sources)
    membership.apply(conn, member_changes)
    insert_renderings(conn, diss_rows)
    # the search index follows added and changed records
    reindex(conn, reindexed, documents, created=frozenset(ids.values()) if new else frozenset())


def tombstone(conn: Connection, now: int, local_id: str, if_stamp: int | None = None) -> bool:
    """Turn a record into a tombstone inside a write transaction; False if it already was one."""
    row = conn.execute(select(records.c.id, records.c.deleted, records.c.stamp)
                       .where(records.c.local_id == local_id).with_for_update()).first()
    if row is None:
        raise RecordNotFound(local_id)
    if if_stamp is not None and row.stamp != if_stamp:
        raise PreconditionFailed(local_id, row.stamp)
    if row.deleted:
        return False
    _bury(conn, now, [row])
    return True


@dataclass
class Withdrawal:
    withdrawn: list[str]
    already_deleted: list[str]
    unknown: list[str]


def withdraw(conn: Connection, now: int, local_ids: Iterable[str], unknown_ok: bool = False,
             chunk_size: int = 500) -> Withdrawal:
    """Turn records into tombstones inside a write transaction, a chunk of statements at a time.
    Unknown identifiers raise RecordsNotFound naming every one of them, unless `unknown_ok`
    (a harvested deletion of a record this store never had)."""
    out = Withdrawal([], [], [])
    for chunk in _chunks(dict.fromkeys(local_ids), chunk_size):
        found = {row.local_id: row for row in conn.execute(
            select(records.c.id, records.c.local_id, records.c.deleted, records.c.stamp)
            .where(records.c.local_id.in_(chunk)).with_for_update())}
        live = [found[i] for i in chunk if i in found and not found[i].deleted]
        _bury(conn, now, live)
        out.withdrawn += [row.local_id for row in live]
        out.already_deleted += [i for i in chunk if i in found and found[i].deleted]
        out.unknown += [i for i in chunk if i not in found]
    if out.unknown and not unknown_ok:
        raise RecordsNotFound(out.unknown)
    return out


def _bury(conn: Connection, now: int, rows: list) -> None:
    """Mark live records deleted with a new stamp, drop their disseminations and search documents."""
    if not rows:
        return
    stamps = {row.id: max(now, row.stamp + 1) for row in rows}
    conn.execute(delete(disseminations).where(disseminations.c.record_id.in_(list(stamps))))
    restamp_records(conn, stamps, deleted=True)
    reindex(conn, list(stamps))  # a tombstone leaves the search index


def restamp_records(conn: Connection, stamps: dict[int, int], **values: object) -> None:
    """Give records (id -> stamp) new datestamps, and `values` besides, in one executemany;
    their membership rows carry the same stamps, so that set lists see them move too."""
    conn.execute(update(records).where(records.c.id == bindparam("b_id")).values(stamp=bindparam("b_stamp"), **values),
                 [{"b_id": i, "b_stamp": s} for i, s in stamps.items()])
    membership.restamp(conn, stamps)


def delete_record(engine: Engine, lease_timeout_s: int, local_id: str, if_stamp: int | None = None) -> bool:
    """Turn a record into a tombstone; False if it already was one."""
    def work(conn: Connection, now: int) -> bool:
        return tombstone(conn, now, local_id, if_stamp)

    return run_write(engine, lease_timeout_s, work)


def delete_records(engine: Engine, lease_timeout_s: int, local_ids: Iterable[str]) -> Withdrawal:
    """Turn records into tombstones, all in one transaction: if any identifier is unknown,
    RecordsNotFound names them all and nothing is withdrawn."""
    return run_write(engine, lease_timeout_s, lambda conn, now: withdraw(conn, now, local_ids))


def add_set(engine: Engine, lease_timeout_s: int, spec: str, name: str, description: str | None,
            rule: str | None = None) -> int:
    """Add a set; with a rule, its members are the records matching it. Returns its member count."""
    if not is_valid_spec(spec):
        raise SetError(f"{spec!r} is not a valid setSpec (letters, digits and -_.!~*'() in parts separated by ':')")
    if not name.strip():
        raise SetError(f"set {spec!r} needs a non-empty name")
    for label, value in (("name", name), ("description", description or "")):
        if has_non_xml_chars(value):
            raise SetError(f"the {label} of set {spec!r} contains characters that XML 1.0 does not allow")

    def work(conn: Connection, now: int) -> None:
        if canonical:
            membership.hold_set_definitions(conn, exclusive=True)
        existing = set(conn.execute(select(sets.c.spec).where(sets.c.spec.in_([spec, *ancestors(spec)]))).scalars())
        if spec in existing:
            raise SetError(f"set {spec!r} already exists")
        missing = [a for a in ancestors(spec) if a not in existing]
        if missing:
            raise SetError(f"parent set {missing[0]!r} of {spec!r} does not exist; add it first")
        conn.execute(insert(sets).values(spec=spec, name=name.strip(), description=description, rule=canonical))

    canonical = _canonical_rule(spec, rule)
    run_write(engine, lease_timeout_s, work)
    return _materialize(engine, lease_timeout_s, spec, canonical) if canonical else 0


def _canonical_rule(spec: str, rule: str | None) -> str | None:
    if rule is None:
        return None
    try:
        return normalized_rule(rule)
    except RuleError as exc:
        raise SetError(f"set {spec!r}: {exc}") from None


def set_rule(engine: Engine, lease_timeout_s: int, spec: str, rule: str | None) -> int:
    """Give a set a rule (members become the matching records) or take it away (members stay,
    now as explicit members). Returns how many records' memberships changed."""
    canonical = _canonical_rule(spec, rule)

    def work(conn: Connection, now: int) -> None:
        membership.hold_set_definitions(conn, exclusive=True)
        if conn.execute(select(sets.c.spec).where(sets.c.spec == spec)).first() is None:
            raise SetError(f"set {spec!r} does not exist")
        conn.execute(update(sets).where(sets.c.spec == spec).values(rule=canonical))

    run_write(engine, lease_timeout_s, work)
    return _materialize(engine, lease_timeout_s, spec, canonical) if canonical else 0


def _materialize(engine: Engine, lease_timeout_s: int, spec: str, rule: str, batch: int = 500) -> int:
    """Bring the live records' membership of a rule set in line with its rule, a batch per
    transaction: re-running after an interruption finishes the job."""
    matches = compile_rule(rule)
    after, moved = 0, 0
    while True:
        def work(conn: Connection, now: int) -> tuple[int, int]:
            ids = list(conn.execute(select(records.c.id).where(records.c.id > after, records.c.deleted.is_(False))
                                    .order_by(records.c.id).limit(batch)).scalars())
            # FOR UPDATE, and the MODS read after it: a record another writer is changing is read
            # as that writer commits it (PostgreSQL), not written back as it was before.
            rows = conn.execute(select(records.c.id, records.c.local_id, records.c.stamp, records.c.set_specs)
                                .where(records.c.id.in_(ids), records.c.deleted.is_(False))
                                .order_by(records.c.id).with_for_update()).all()
            mods = dict(conn.execute(select(disseminations.c.record_id, disseminations.c.xml).where(
                disseminations.c.record_id.in_([row.id for row in rows]), disseminations.c.prefix == "mods")).all())
            changes = []
            for row in rows:
                old = split_specs(row.set_specs)
                xml = mods.get(row.id)
                member = xml is not None and matches(parse_xml(xml, row.local_id).getroot())
                new = (old - {spec}) | ({spec} if member else set())
                if new != old:
                    stamp = max(now, row.stamp + 1)
                    conn.execute(update(records).where(records.c.id == row.id)
                                 .values(stamp=stamp, set_specs=join_specs(new)))
                    changes.append(membership.MembershipChange(row.id, frozenset(old), frozenset(new), stamp))
            membership.apply(conn, changes)
            return (ids[-1] if ids else -1), len(changes)

        after, n = run_write(engine, lease_timeout_s, work)
        moved += n
        if after < 0:
            return moved


def update_set(engine: Engine, lease_timeout_s: int, spec: str, name: str | None = None,
               description: str | None = None) -> None:
    """Rename or describe a set. Headers carry setSpecs, not names, so no datestamp moves."""
    values = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
    if "name" in values and not values["name"].strip():
        raise SetError(f"set {spec!r} needs a non-empty name")
    for label, value in values.items():
        if has_non_xml_chars(value):
            raise SetError(f"the {label} of set {spec!r} contains characters that XML 1.0 does not allow")

    def work(conn: Connection, now: int) -> None:
        if conn.execute(select(sets.c.spec).where(sets.c.spec == spec)).first() is None:
            raise SetError(f"set {spec!r} does not exist")
        if values:
            conn.execute(update(sets).where(sets.c.spec == spec).values(**values))

    run_write(engine, lease_timeout_s, work)


def remove_set(engine: Engine, lease_timeout_s: int, spec: str) -> int:
    """Remove an empty-of-subsets set; its members change (their headers lose it). Returns members."""
    def work(conn: Connection, now: int) -> int:
        membership.hold_set_definitions(conn, exclusive=True)
        if conn.execute(select(sets.c.spec).where(sets.c.spec == spec)).first() is None:
            raise SetError(f"set {spec!r} does not exist")
        child = conn.execute(select(sets.c.spec).where(sets.c.spec.like(spec.replace("%", r"\%").replace("_", r"\_") + ":%", escape="\\")).limit(1)).scalar()
        if child:
            raise SetError(f"set {spec!r} has subset {child!r}; remove the subsets first")
        # FOR UPDATE: a member another writer is changing is read as that writer commits it.
        members = conn.execute(select(records.c.id, records.c.stamp, records.c.set_specs)
                               .join(record_sets, record_sets.c.record_id == records.c.id)
                               .where(record_sets.c.spec == spec).with_for_update(of=records)).all()
        changes = []
        for row in members:
            old = split_specs(row.set_specs)
            if spec not in old:  # that writer took it out of the set
                continue
            stamp = max(now, row.stamp + 1)
            conn.execute(update(records).where(records.c.id == row.id)
                         .values(stamp=stamp, set_specs=join_specs(old - {spec})))
            changes.append(membership.MembershipChange(row.id, frozenset(old), frozenset(old - {spec}), stamp))
        membership.apply(conn, changes)
        conn.execute(delete(sets).where(sets.c.spec == spec))
        return len(changes)

    return run_write(engine, lease_timeout_s, work)


def record_creation_time(engine: Engine) -> None:
    """Remember when the store was created: earliestDatestamp of an empty repository."""
    with write_transaction(engine) as conn:
        if conn.execute(select(repository_meta.c.key).where(repository_meta.c.key == "created_us")).first() is None:
            conn.execute(insert(repository_meta).values(key="created_us", value=str(db_now_us(conn))))
