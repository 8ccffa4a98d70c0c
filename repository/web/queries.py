"""The reads behind the web pages, each one bounded by an index.

Browsing walks (stamp, id) newest first: the records index for the whole
collection, the (spec, stamp, record_id) membership index for one set, so a
page deep in a set costs what the first one does. The counts on the home and
sets pages scan, so they are cached for a minute per process.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, Engine, and_, func, select, tuple_

from repository.db.tables import disseminations, record_sets, records, sets

T = TypeVar("T")
COUNT_TTL_S = 60.0


@dataclass(frozen=True)
class ListedRecord:
    id: int
    local_id: str
    stamp: int
    deleted: bool
    mods: bytes | None


def _mods_join(src):
    return src.outerjoin(disseminations, and_(disseminations.c.record_id == records.c.id,
                                              disseminations.c.prefix == "mods"))


def browse_page(conn: Connection, set_spec: str | None, before: tuple[int, int] | None,
                limit: int) -> list[ListedRecord]:
    """Up to `limit` live records, newest change first, strictly before the (stamp, id) cursor."""
    if set_spec is None:
        stamp, rid = records.c.stamp, records.c.id
        src = records
        conds = [records.c.deleted.is_(False)]
    else:
        stamp, rid = record_sets.c.stamp, record_sets.c.record_id
        src = record_sets.join(records, records.c.id == record_sets.c.record_id)
        conds = [record_sets.c.spec == set_spec, records.c.deleted.is_(False)]
    if before is not None:
        conds.append(tuple_(stamp, rid) < tuple_(*before))
    stmt = (select(records.c.id, records.c.local_id, stamp.label("stamp"), records.c.deleted, disseminations.c.xml)
            .select_from(_mods_join(src)).where(*conds).order_by(stamp.desc(), rid.desc()).limit(limit))
    return [ListedRecord(r.id, r.local_id, r.stamp, r.deleted, r.xml) for r in conn.execute(stmt)]


def latest_changes(conn: Connection, limit: int) -> list[ListedRecord]:
    """The most recently changed records, withdrawals included."""
    stmt = (select(records.c.id, records.c.local_id, records.c.stamp, records.c.deleted, disseminations.c.xml)
            .select_from(_mods_join(records)).order_by(records.c.stamp.desc(), records.c.id.desc()).limit(limit))
    return [ListedRecord(r.id, r.local_id, r.stamp, r.deleted, r.xml) for r in conn.execute(stmt)]


def records_by_ids(conn: Connection, ids: list[int]) -> list[ListedRecord]:
    """These records, in the order given."""
    if not ids:
        return []
    stmt = (select(records.c.id, records.c.local_id, records.c.stamp, records.c.deleted, disseminations.c.xml)
            .select_from(_mods_join(records)).where(records.c.id.in_(ids)))
    found = {r.id: ListedRecord(r.id, r.local_id, r.stamp, r.deleted, r.xml) for r in conn.execute(stmt)}
    return [found[i] for i in ids if i in found]


def all_sets(conn: Connection) -> list:
    return conn.execute(select(sets.c.spec, sets.c.name, sets.c.description).order_by(sets.c.spec)).all()


def get_set(conn: Connection, spec: str):
    return conn.execute(select(sets.c.spec, sets.c.name, sets.c.description).where(sets.c.spec == spec)).first()


def set_names(conn: Connection, specs: list[str]) -> dict[str, str]:
    if not specs:
        return {}
    return dict(conn.execute(select(sets.c.spec, sets.c.name).where(sets.c.spec.in_(specs))).all())


def prefixes_of(conn: Connection, record_id: int) -> list[str]:
    return sorted(conn.execute(select(disseminations.c.prefix).where(disseminations.c.record_id == record_id))
                  .scalars())


def dissemination(conn: Connection, record_id: int, prefix: str) -> bytes | None:
    return conn.execute(select(disseminations.c.xml).where(disseminations.c.record_id == record_id,
                                                           disseminations.c.prefix == prefix)).scalar()


def _counts(conn: Connection) -> dict:
    live = conn.execute(select(func.count()).select_from(records).where(records.c.deleted.is_(False))).scalar_one()
    deleted = conn.execute(select(func.count()).select_from(records).where(records.c.deleted.is_(True))).scalar_one()
    per_set = dict(conn.execute(
        select(record_sets.c.spec, func.count()).join(records, records.c.id == record_sets.c.record_id)
        .where(records.c.deleted.is_(False)).group_by(record_sets.c.spec)).all())
    n_sets = conn.execute(select(func.count()).select_from(sets)).scalar_one()
    return {"records": int(live), "deleted": int(deleted), "sets": int(n_sets),
            "per_set": {k: int(v) for k, v in per_set.items()}}


def cached(cache: dict, name: str, compute: Callable[[], T], ttl: float = COUNT_TTL_S) -> T:
    """`compute()`, remembered in `cache` (one per app) for `ttl` seconds."""
    now = time.monotonic()
    hit = cache.get(name)
    if hit and now - hit[0] < ttl:
        return hit[1]
    value = compute()
    cache[name] = (now, value)
    return value


def counts(engine: Engine, cache: dict, ttl: float = COUNT_TTL_S) -> dict:
    def compute() -> dict:
        with engine.connect() as conn:
            return _counts(conn)
    return cached(cache, "counts", compute, ttl)
