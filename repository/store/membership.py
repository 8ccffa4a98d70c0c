"""Set membership: explicit and rule-defined, with ancestors, and where records left sets.

A record's direct sets (its header's setSpecs) are the explicit ones plus the
query-defined sets whose rule it matches; `record_sets` also holds every
ancestor, so a harvest of `a` finds members of `a:b`. When a record stops
being in a set, a row in `set_departures` remembers when, for repositories
that announce such departures as deletions to that set's harvesters.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select, tuple_, update

from metadata.safe_xml import parse_xml
from repository.db.tables import record_sets, set_departures, sets
from repository.store.bulk import insert_many
from repository.store.rules import Predicate, compile_rule
from repository.store.sets import with_ancestors

Rules = dict[str, Predicate]


@dataclass(frozen=True)
class MembershipChange:
    record_id: int
    old: frozenset[str] | None  # direct sets before (None: a new record)
    new: frozenset[str]
    stamp: int


def load_rules(conn: Connection) -> Rules:
    """The rules a writer places its records by. It holds the set definitions (shared) until it
    commits, so that a rule cannot change between its reading them and its records showing."""
    hold_set_definitions(conn, exclusive=False)
    return {spec: compile_rule(rule) for spec, rule in
            conn.execute(select(sets.c.spec, sets.c.rule).where(sets.c.rule.is_not(None))).all()}


def hold_set_definitions(conn: Connection, exclusive: bool) -> None:
    """Lock the set definitions until the transaction ends: shared by writers of records,
    exclusive to add a rule set, change a rule or remove a set. Such a change thus waits for
    the writers that read the old definitions, and its materialisation sees their records.
    On PostgreSQL (an advisory lock per schema); SQLite runs one write at a time anyway."""
    if conn.dialect.name == "sqlite":
        return
    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.exec_driver_sql(f"SELECT {lock}(hashtext('granary set definitions'), hashtext(current_schema()))")


def matching(rules: Rules, mods_xml: bytes | None, source: str) -> set[str]:
    """The rule sets a record's MODS dissemination matches."""
    if not rules or mods_xml is None:
        return set()
    root = parse_xml(mods_xml, source).getroot()
    return {spec for spec, pred in rules.items() if pred(root)}


def apply(conn: Connection, changes: list[MembershipChange]) -> None:
    """Write the new memberships of these records and note the sets each one left."""
    if not changes:
        return
    existing = [c.record_id for c in changes if c.old is not None]
    if existing:
        conn.execute(delete(record_sets).where(record_sets.c.record_id.in_(existing)))
    rows, left, rejoined = [], [], []
    for c in changes:
        now_in = with_ancestors(set(c.new))
        rows += [(c.record_id, s, s in c.new, c.stamp) for s in sorted(now_in)]
        if c.old is not None:
            left += [(c.record_id, s, c.stamp) for s in sorted(with_ancestors(set(c.old)) - now_in)]
            rejoined += [(c.record_id, s) for s in now_in]
    insert_many(conn, record_sets.name, ("record_id", "spec", "direct", "stamp"), rows)
    if rejoined:
        conn.execute(delete(set_departures).where(
            tuple_(set_departures.c.record_id, set_departures.c.spec).in_(rejoined)))
    if left:
        conn.execute(delete(set_departures).where(
            tuple_(set_departures.c.record_id, set_departures.c.spec).in_([(r, s) for r, s, _ in left])))
        insert_many(conn, set_departures.name, ("record_id", "spec", "stamp"), left)


def restamp(conn: Connection, stamps: dict[int, int]) -> None:
    """Keep the membership rows' copy of these records' stamps (record id -> stamp) current."""
    if stamps:
        conn.execute(update(record_sets).where(record_sets.c.record_id == bindparam("b_id"))
                     .values(stamp=bindparam("b_stamp")), [{"b_id": i, "b_stamp": s} for i, s in stamps.items()])
