"""All changes to records and sets, each in one transaction under a write lease.

A record's stamp moves exactly when what a harvester receives changes: its
metadata (compared as canonical bytes), its set memberships, or its deleted
flag. Stamps never go backwards: a new stamp is at least the old one plus one.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select, update

from metadata.xmlchars import has_non_xml_chars
from repository.db.engine import db_now_us, write_transaction
from repository.db.tables import disseminations, record_sets, records, repository_meta, sets
from repository.store import clock
from repository.store.errors import PreconditionFailed, RecordNotFound, SetError
from repository.store.sets import ancestors, is_valid_spec, join_specs, split_specs, with_ancestors

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


@dataclass
class WriteSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # local_id -> added|updated|unchanged


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


def _check_sets_exist(conn: Connection, specs: set[str]) -> None:
    if not specs:
        return
    found = set(conn.execute(select(sets.c.spec).where(sets.c.spec.in_(specs))).scalars())
    missing = sorted(specs - found)
    if missing:
        raise SetError(f"set {missing[0]!r} does not exist; create it first with `granary sets add {missing[0]} NAME`")


def _membership_rows(record_id: int, direct: set[str], stamp: int) -> list[tuple]:
    return [(record_id, s, s in direct, stamp) for s in sorted(with_ancestors(direct))]


def insert_many(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """executemany straight on the driver: bulk ingest spends most of its write time
    building SQLAlchemy parameter dicts otherwise."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


_MEMBERSHIP_COLUMNS = ("record_id", "spec", "direct", "stamp")
_DISSEMINATION_COLUMNS = ("record_id", "prefix", "xml", "crosswalk_version")
_RECORD_COLUMNS = ("local_id", "native_format", "native_xml", "content_hash", "stamp", "deleted", "set_specs")


def _replace_memberships(conn: Connection, rows_by_record: dict[int, list[tuple]], fresh: bool = False) -> None:
    """Replace the memberships of these records (`fresh`: they have none yet)."""
    if not rows_by_record:
        return
    if not fresh:
        conn.execute(delete(record_sets).where(record_sets.c.record_id.in_(list(rows_by_record))))
    insert_many(conn, record_sets, _MEMBERSHIP_COLUMNS, [r for rs in rows_by_record.values() for r in rs])


def write_records(engine: Engine, lease_timeout_s: int, prepared: Iterable[PreparedRecord],
                  chunk_size: int = 500, progress: Callable[[int], None] | None = None) -> WriteSummary:
    """Add or update records atomically: all of them are written, or none."""
    def work(conn: Connection, now: int) -> WriteSummary:
        summary = WriteSummary()
        for chunk in _chunks(prepared, chunk_size):
            _check_sets_exist(conn, set().union(*(p.sets for p in chunk)))
            _write_chunk(conn, now, chunk, summary)
            if progress:
                progress(len(chunk))
        return summary

    return run_write(engine, lease_timeout_s, work)


def _dissemination_rows(record_id: int, p: PreparedRecord) -> list[tuple]:
    return [(record_id, k, x, v) for k, (x, v) in sorted(p.render().items())]


def _write_chunk(conn: Connection, now: int, chunk: list[PreparedRecord], summary: WriteSummary) -> None:
    cols = records.c
    existing = {row.local_id: row for row in conn.execute(
        select(cols.id, cols.local_id, cols.content_hash, cols.deleted, cols.set_specs, cols.stamp,
               cols.native_xml).where(cols.local_id.in_([p.local_id for p in chunk])))}
    for p in chunk:
        if p.if_stamp is not None:
            row = existing.get(p.local_id)
            if row is None or row.stamp != p.if_stamp:
                raise PreconditionFailed(p.local_id, None if row is None else row.stamp)
    new = [p for p in chunk if p.local_id not in existing]
    changed: list[tuple[PreparedRecord, object, set[str]]] = []
    raw_only: list[dict] = []
    for p in chunk:
        row = existing.get(p.local_id)
        if row is None:
            continue
        direct = set(p.sets) if p.replace_sets else split_specs(row.set_specs) | set(p.sets)
        if row.content_hash != p.content_hash or row.deleted or direct != split_specs(row.set_specs):
            changed.append((p, row, direct))
        else:
            summary.unchanged += 1
            summary.outcomes[p.local_id] = "unchanged"
            if row.native_xml != p.native_xml:
                raw_only.append({"b_id": row.id, "native_xml": p.native_xml})

    new_memberships: dict[int, list[tuple]] = {}
    memberships: dict[int, list[tuple]] = {}
    diss_rows: list[tuple] = []
    if new:
        insert_many(conn, records, _RECORD_COLUMNS, [
            (p.local_id, p.native_format, p.native_xml, p.content_hash, now, False, join_specs(set(p.sets)))
            for p in new])
        ids = dict(conn.execute(select(cols.local_id, cols.id).where(cols.local_id.in_([p.local_id for p in new]))).all())
        for p in new:
            rid = ids[p.local_id]
            new_memberships[rid] = _membership_rows(rid, set(p.sets), now)
            diss_rows += _dissemination_rows(rid, p)
            summary.added += 1
            summary.outcomes[p.local_id] = "added"
    if changed:
        updates = []
        for p, row, direct in changed:
            stamp = max(now, row.stamp + 1)
            updates.append({"b_id": row.id, "native_format": p.native_format, "native_xml": p.native_xml,
                            "content_hash": p.content_hash, "stamp": stamp, "deleted": False,
                            "set_specs": join_specs(direct)})
            memberships[row.id] = _membership_rows(row.id, direct, stamp)
            diss_rows += _dissemination_rows(row.id, p)
            summary.updated += 1
            summary.outcomes[p.local_id] = "updated"
        conn.execute(update(records).where(records.c.id == bindparam("b_id")), updates)
        conn.execute(delete(disseminations).where(
            disseminations.c.record_id.in_([row.id for _, row, _ in changed])))
    if raw_only:
        conn.execute(update(records).where(records.c.id == bindparam("b_id")), raw_only)
    _replace_memberships(conn, new_memberships, fresh=True)
    _replace_memberships(conn, memberships)
    insert_many(conn, disseminations, _DISSEMINATION_COLUMNS, diss_rows)


def delete_record(engine: Engine, lease_timeout_s: int, local_id: str, if_stamp: int | None = None) -> bool:
    """Turn a record into a tombstone; False if it already was one."""
    def work(conn: Connection, now: int) -> bool:
        row = conn.execute(select(records.c.id, records.c.deleted, records.c.stamp, records.c.set_specs)
                           .where(records.c.local_id == local_id)).first()
        if row is None:
            raise RecordNotFound(local_id)
        if if_stamp is not None and row.stamp != if_stamp:
            raise PreconditionFailed(local_id, row.stamp)
        if row.deleted:
            return False
        stamp = max(now, row.stamp + 1)
        conn.execute(update(records).where(records.c.id == row.id).values(deleted=True, stamp=stamp))
        conn.execute(delete(disseminations).where(disseminations.c.record_id == row.id))
        conn.execute(update(record_sets).where(record_sets.c.record_id == row.id).values(stamp=stamp))
        return True

    return run_write(engine, lease_timeout_s, work)


def add_set(engine: Engine, lease_timeout_s: int, spec: str, name: str, description: str | None) -> None:
    if not is_valid_spec(spec):
        raise SetError(f"{spec!r} is not a valid setSpec (letters, digits and -_.!~*'() in parts separated by ':')")
    if not name.strip():
        raise SetError(f"set {spec!r} needs a non-empty name")
    for label, value in (("name", name), ("description", description or "")):
        if has_non_xml_chars(value):
            raise SetError(f"the {label} of set {spec!r} contains characters that XML 1.0 does not allow")

    def work(conn: Connection, now: int) -> None:
        existing = set(conn.execute(select(sets.c.spec).where(sets.c.spec.in_([spec, *ancestors(spec)]))).scalars())
        if spec in existing:
            raise SetError(f"set {spec!r} already exists")
        missing = [a for a in ancestors(spec) if a not in existing]
        if missing:
            raise SetError(f"parent set {missing[0]!r} of {spec!r} does not exist; add it first")
        conn.execute(insert(sets).values(spec=spec, name=name.strip(), description=description))

    run_write(engine, lease_timeout_s, work)


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
        if conn.execute(select(sets.c.spec).where(sets.c.spec == spec)).first() is None:
            raise SetError(f"set {spec!r} does not exist")
        child = conn.execute(select(sets.c.spec).where(sets.c.spec.like(spec.replace("%", r"\%").replace("_", r"\_") + ":%", escape="\\")).limit(1)).scalar()
        if child:
            raise SetError(f"set {spec!r} has subset {child!r}; remove the subsets first")
        members = conn.execute(select(records.c.id, records.c.stamp, records.c.set_specs)
                               .join(record_sets, record_sets.c.record_id == records.c.id)
                               .where(record_sets.c.spec == spec)).all()
        conn.execute(delete(record_sets).where(record_sets.c.spec == spec))
        memberships: dict[int, list[tuple]] = {}
        for row in members:
            stamp = max(now, row.stamp + 1)
            direct = split_specs(row.set_specs) - {spec}
            conn.execute(update(records).where(records.c.id == row.id)
                         .values(stamp=stamp, set_specs=join_specs(direct)))
            memberships[row.id] = _membership_rows(row.id, direct, stamp)
        _replace_memberships(conn, memberships)
        conn.execute(delete(sets).where(sets.c.spec == spec))
        return len(members)

    return run_write(engine, lease_timeout_s, work)


def record_creation_time(engine: Engine) -> None:
    """Remember when the store was created: earliestDatestamp of an empty repository."""
    with write_transaction(engine) as conn:
        if conn.execute(select(repository_meta.c.key).where(repository_meta.c.key == "created_us")).first() is None:
            conn.execute(insert(repository_meta).values(key="created_us", value=str(db_now_us(conn))))
