"""The read queries of harvests and admin commands (SQLAlchemy Core, keyset-paginated).

List pages walk an index that matches the query: (stamp, id) on records for a
full harvest, (spec, stamp, record_id) on memberships for a set harvest. A page
continues strictly after the (stamp, id) of the last row of the previous page,
so its cost does not depend on its depth.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from sqlalchemy import (
    Boolean,
    Connection,
    Row,
    and_,
    func,
    literal,
    null,
    select,
    tuple_,
    union_all,
)

from repository.db.tables import (
    disseminations,
    record_sets,
    record_sources,
    records,
    repository_meta,
    set_departures,
    sets,
)
from repository.store.rawsql import fetch_all, param_names, stream


@dataclass(frozen=True)
class ListQuery:
    """What a ListIdentifiers/ListRecords list selects; carried across pages by the token."""

    prefix: str
    native_formats: tuple[str, ...] | None  # None: every native format reaches the prefix
    set_spec: str | None
    from_us: int | None
    until_us: int | None   # exclusive upper bound
    upper_us: int          # the watermark: exclusive
    departures: bool = False  # also list records that left the set, as deleted (deletes in sets)


def _filters(q: ListQuery, stamp_col, id_col, after: tuple[int, int] | None) -> list:
    conds = [stamp_col < q.upper_us]
    if q.from_us is not None:
        conds.append(stamp_col >= q.from_us)
    if q.until_us is not None:
        conds.append(stamp_col < q.until_us)
    if q.set_spec is not None:
        conds.append(record_sets.c.spec == q.set_spec)
    if q.native_formats is not None:
        conds.append(records.c.native_format.in_(q.native_formats))
    if after is not None:
        conds.append(tuple_(stamp_col, id_col) > tuple_(*after))
    return conds


def _keys(q: ListQuery):
    if q.set_spec is None:
        return records.c.stamp, records.c.id
    return record_sets.c.stamp, record_sets.c.record_id


def _base(q: ListQuery, columns: Sequence):
    stmt = select(*columns)
    if q.set_spec is not None:
        stmt = stmt.select_from(record_sets.join(records, records.c.id == record_sets.c.record_id))
    else:
        stmt = stmt.select_from(records)
    return stmt


class ListRow(NamedTuple):
    id: int
    local_id: str
    stamp: int
    deleted: bool
    set_specs: str
    xml: bytes | None = None
    crosswalk_version: str | None = None
    about: bytes | None = None


@cache
def _page_sql(sqlite: bool, with_metadata: bool, by_set: bool, windowed_from: bool, windowed_until: bool,
              formats: int, resumed: bool) -> str:
    """The SQL of one shape of list page, with `:name` parameters (see rawsql)."""
    key_stamp, key_id = ("rs.stamp", "rs.record_id") if by_set else ("r.stamp", "r.id")
    cols = "r.id, r.local_id, r.stamp, r.deleted, r.set_specs"
    source = "records r"
    keys_source = source  # what the keys alone need: a set's rows carry their stamps
    if by_set:
        source = "record_sets rs JOIN records r ON r.id = rs.record_id"
        keys_source = source if formats else "record_sets rs"
    xml_join = ""
    if with_metadata:
        cols += ", d.xml, d.crosswalk_version, r.about"
        xml_join = " LEFT JOIN disseminations d ON d.record_id = r.id AND d.prefix = :prefix"
        source += xml_join
    where = [f"{key_stamp} < :upper"]
    if by_set:
        where.append("rs.spec = :spec")
    if windowed_from:
        where.append(f"{key_stamp} >= :from_us")
    if windowed_until:
        where.append(f"{key_stamp} < :until_us")
    if formats:
        where.append("r.native_format IN (" + ", ".join(f":fmt{i}" for i in range(formats)) + ")")
    common = " AND ".join(where)

    def page(extra: str, order: str) -> str:
        return f"SELECT {cols} FROM {source} WHERE {common}{extra} ORDER BY {order} LIMIT :limit"

    def keys(extra: str, order: str) -> str:
        return (f"SELECT {key_id} AS id, {key_stamp} AS stamp FROM {keys_source} WHERE {common}{extra} "
                f"ORDER BY {order} LIMIT :limit")

    def joined(keys_sql: str) -> str:
        """The page's rows for the keys `keys_sql` picks: records and XML read for those keys only."""
        return f"SELECT {cols} FROM ({keys_sql}) k JOIN records r ON r.id = k.id{xml_join} ORDER BY k.stamp, k.id"

    after = f" AND ({key_stamp}, {key_id}) > (:after_stamp, :after_id)" if resumed else ""
    if not sqlite and by_set:
        # Keys first on PostgreSQL too: without statistics on record_sets (a fresh bulk load,
        # autovacuum not yet run or off, a new set) the planner expects a set to hold ten rows,
        # and joined every row of the set to records and their XML before sorting them (40 ms
        # for the first page of a 10,000-record set). Picking the keys alone bounds that
        # mistake to a sort of index entries.
        return joined(keys(after, f"{key_stamp}, {key_id}"))
    if not resumed:
        return page("", f"{key_stamp}, {key_id}")
    if not sqlite:
        return page(after, f"{key_stamp}, {key_id}")
    # SQLite seeks only on the first column of a row-value comparison: after a bulk load,
    # where thousands of records share one stamp, every page would rescan them from the
    # start. Two seeks, the rest of this stamp and the stamps after it, keep pages flat.
    # They pick keys only, and the rows are joined after: merging and sorting the two
    # halves' rows with their XML cost twice what the whole query now does.
    return joined(f"SELECT * FROM ({keys(f' AND {key_stamp} = :after_stamp AND {key_id} > :after_id', key_id)}) "
                  f"UNION ALL SELECT * FROM ({keys(f' AND {key_stamp} > :after_stamp', f'{key_stamp}, {key_id}')}) "
                  "ORDER BY stamp, id LIMIT :limit")


def list_page(conn: Connection, q: ListQuery, after: tuple[int, int] | None, limit: int,
              with_metadata: bool) -> Iterable[ListRow]:
    """Up to `limit` rows of the list after the cursor, in (stamp, id) order. Rows with
    their XML are streamed (see rawsql.stream): consume them before the next statement."""
    if q.departures and q.set_spec is not None:
        return _list_page_with_departures(conn, q, after, limit, with_metadata)
    formats = q.native_formats or ()
    sql = _page_sql(conn.dialect.name == "sqlite", with_metadata, q.set_spec is not None,
                    q.from_us is not None, q.until_us is not None, len(formats), after is not None)
    params: dict = {"upper": q.upper_us, "limit": limit, "prefix": q.prefix, "spec": q.set_spec,
                    "from_us": q.from_us, "until_us": q.until_us}
    params.update({f"fmt{i}": f for i, f in enumerate(formats)})
    if after is not None:
        params["after_stamp"], params["after_id"] = after
    used = param_names(sql)
    params = {k: v for k, v in params.items() if k in used}
    if with_metadata:
        return map(ListRow._make, stream(conn, sql, params))
    # Header rows are small: chunks would add more than they overlap.
    return [ListRow(*row) for row in fetch_all(conn, sql, params)]


def _list_page_with_departures(conn: Connection, q: ListQuery, after: tuple[int, int] | None, limit: int,
                               with_metadata: bool) -> list[ListRow]:
    stamp_col, id_col = _keys(q)
    cols = [records.c.id, records.c.local_id, records.c.stamp, records.c.deleted, records.c.set_specs]
    if with_metadata:
        cols += [disseminations.c.xml, disseminations.c.crosswalk_version, records.c.about]
    stmt = _base(q, cols)
    if with_metadata:
        stmt = stmt.outerjoin(disseminations, and_(disseminations.c.record_id == records.c.id,
                                                   disseminations.c.prefix == q.prefix))
    stmt = stmt.where(*_filters(q, stamp_col, id_col, after))
    both = union_all(stmt, _departed(q, cols, after)).subquery()
    return [ListRow(*row) for row in
            conn.execute(select(both).order_by(both.c.stamp, both.c.id).limit(limit)).all()]


def _departed(q: ListQuery, cols: list, after: tuple[int, int] | None):
    """Records that left the harvested set, shaped like list rows with a deleted header."""
    d = set_departures.c
    shaped = []
    for col in cols:
        if col is records.c.stamp:
            shaped.append(d.stamp.label("stamp"))
        elif col is records.c.deleted:
            shaped.append(literal(True, Boolean).label("deleted"))
        elif col.table is records and col.name != "about":
            shaped.append(col)
        else:
            shaped.append(null().cast(col.type).label(col.name))
    conds = [d.spec == q.set_spec, d.stamp < q.upper_us]
    if q.from_us is not None:
        conds.append(d.stamp >= q.from_us)
    if q.until_us is not None:
        conds.append(d.stamp < q.until_us)
    if q.native_formats is not None:
        conds.append(records.c.native_format.in_(q.native_formats))
    if after is not None:
        conds.append(tuple_(d.stamp, d.record_id) > tuple_(*after))
    return select(*shaped).select_from(set_departures.join(records, records.c.id == d.record_id)).where(*conds)


def count_list(conn: Connection, q: ListQuery) -> int:
    stamp_col, id_col = _keys(q)
    if q.set_spec is not None and q.native_formats is None:
        # A set's rows carry their stamps: counted on the set's index alone, without the join
        # (on PostgreSQL 11 ms -> 2 ms for a set of 10,000 records).
        stmt = select(func.count()).select_from(record_sets)
    else:
        stmt = _base(q, [func.count()])
    n = int(conn.execute(stmt.where(*_filters(q, stamp_col, id_col, None))).scalar_one())
    if q.departures and q.set_spec is not None:
        n += int(conn.execute(select(func.count()).select_from(_departed(q, [records.c.id], None).subquery()))
                 .scalar_one())
    return n


class RecordRow(NamedTuple):
    id: int
    local_id: str
    stamp: int
    deleted: bool
    set_specs: str
    native_format: str
    xml: bytes | None = None
    crosswalk_version: str | None = None
    about: bytes | None = None


_RECORD_SQL = "SELECT id, local_id, stamp, deleted, set_specs, native_format FROM records WHERE local_id = :local_id"
_RECORD_IN_FORMAT_SQL = (
    "SELECT r.id, r.local_id, r.stamp, r.deleted, r.set_specs, r.native_format, d.xml, d.crosswalk_version, r.about "
    "FROM records r LEFT JOIN disseminations d ON d.record_id = r.id AND d.prefix = :prefix "
    "WHERE r.local_id = :local_id")


def get_record(conn: Connection, local_id: str, prefix: str | None) -> RecordRow | None:
    """One record's header fields and native format, and with `prefix` its rendering in that format."""
    if prefix is None:
        rows = fetch_all(conn, _RECORD_SQL, {"local_id": local_id})
    else:
        rows = fetch_all(conn, _RECORD_IN_FORMAT_SQL, {"local_id": local_id, "prefix": prefix})
    return RecordRow(*rows[0]) if rows else None


def earliest_stamp(conn: Connection) -> int | None:
    value = conn.execute(select(func.min(records.c.stamp))).scalar()
    if value is not None:
        return int(value)
    created = conn.execute(select(repository_meta.c.value).where(repository_meta.c.key == "created_us")).scalar()
    return int(created) if created is not None else None


def content_hashes(conn: Connection, local_ids: list[str]) -> dict[str, str]:
    """local_id -> content hash of the live records among `local_ids`."""
    if not local_ids:
        return {}
    return dict(conn.execute(select(records.c.local_id, records.c.content_hash)
                             .where(records.c.local_id.in_(local_ids), records.c.deleted.is_(False))).all())


def first_local_id(conn: Connection) -> str | None:
    return conn.execute(select(records.c.local_id).order_by(records.c.id).limit(1)).scalar()


def has_sets(conn: Connection) -> bool:
    return conn.execute(select(sets.c.spec).limit(1)).first() is not None


def set_exists(conn: Connection, spec: str) -> bool:
    return conn.execute(select(sets.c.spec).where(sets.c.spec == spec)).first() is not None


def list_sets(conn: Connection, after: str | None, limit: int) -> list[Row]:
    stmt = select(sets.c.spec, sets.c.name, sets.c.description, sets.c.rule).order_by(sets.c.spec).limit(limit)
    if after is not None:
        stmt = stmt.where(sets.c.spec > after)
    return conn.execute(stmt).all()


def set_rules(conn: Connection) -> dict[str, str]:
    """spec -> rule of the query-defined sets."""
    return dict(conn.execute(select(sets.c.spec, sets.c.rule).where(sets.c.rule.is_not(None))).all())


def count_sets(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(sets)).scalar_one())


def stats(conn: Connection) -> dict:
    by_format = dict(conn.execute(select(records.c.native_format, func.count())
                                  .where(records.c.deleted.is_(False)).group_by(records.c.native_format)).all())
    deleted = conn.execute(select(func.count()).select_from(records).where(records.c.deleted.is_(True))).scalar_one()
    per_set: dict[str, dict[str, int]] = {}
    for spec, deleted_flag, n in conn.execute(
            select(record_sets.c.spec, records.c.deleted, func.count())
            .join(records, records.c.id == record_sets.c.record_id)
            .group_by(record_sets.c.spec, records.c.deleted)).all():
        per_set.setdefault(spec, {"live": 0, "deleted": 0})["deleted" if deleted_flag else "live"] += int(n)
    latest = conn.execute(select(func.max(records.c.stamp))).scalar()
    return {"records": sum(by_format.values()), "deleted": int(deleted), "by_format": by_format,
            "sets": per_set, "latest_stamp": latest, "earliest_stamp": earliest_stamp(conn)}


def iter_live_records(conn: Connection, set_spec: str | None = None, batch: int = 500):
    """(id, local_id, native_format, native_xml, stamp) of every live record, in id order,
    fetched in keyset batches so a whole collection never sits in memory."""
    after = 0
    while True:
        stmt = (select(records.c.id, records.c.local_id, records.c.native_format, record_sources.c.native_xml,
                       records.c.stamp).join(record_sources, record_sources.c.record_id == records.c.id)
                .where(records.c.deleted.is_(False), records.c.id > after).order_by(records.c.id).limit(batch))
        if set_spec is not None:
            stmt = stmt.where(records.c.id.in_(select(record_sets.c.record_id).where(record_sets.c.spec == set_spec)))
        rows = conn.execute(stmt).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def disseminations_of(conn: Connection, record_ids: list[int]) -> dict[int, dict[str, tuple[bytes, str]]]:
    out: dict[int, dict[str, tuple[bytes, str]]] = {}
    rows = conn.execute(select(disseminations.c.record_id, disseminations.c.prefix, disseminations.c.xml,
                               disseminations.c.crosswalk_version)
                        .where(disseminations.c.record_id.in_(record_ids))).all()
    for r in rows:
        out.setdefault(r.record_id, {})[r.prefix] = (r.xml, r.crosswalk_version)
    return out


def record_detail(conn: Connection, local_id: str) -> Row | None:
    """Everything about one record: (id, local_id, native_format, native_xml, stamp, deleted, set_specs, about)."""
    return conn.execute(select(records.c.id, records.c.local_id, records.c.native_format, record_sources.c.native_xml,
                               records.c.stamp, records.c.deleted, records.c.set_specs, records.c.about)
                        .join(record_sources, record_sources.c.record_id == records.c.id)
                        .where(records.c.local_id == local_id)).first()
