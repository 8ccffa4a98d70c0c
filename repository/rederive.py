"""`granary recrosswalk`: bring stored disseminations up to the installed crosswalks.

A crosswalk's version changes when its output may change. Records whose stored
disseminations were made by another version (or lack a newly reachable format,
or keep one no longer reachable) are rendered again; a record's datestamp moves
only if the bytes a harvester receives actually changed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, select

from crosswalks.registry import Registry
from metadata.safe_xml import parse_xml
from repository.db.tables import disseminations, record_sources, records
from repository.ingest.prepare import render
from repository.search.index import reindex
from repository.store import queries
from repository.store.writes import insert_renderings, restamp_records, run_write


@dataclass
class RederiveSummary:
    examined: int = 0
    rerendered: int = 0
    changed: int = 0  # records whose output bytes changed, so whose datestamp moved


def _wanted_versions(registry: Registry, native: str) -> dict[str, str]:
    return {p: ("native" if p == native else registry.version(native, p)) for p in registry.reachable(native)}


def rederive(engine: Engine, registry: Registry, lease_timeout_s: int, dry_run: bool = False,
             batch: int = 500, progress: Callable[[int], None] | None = None) -> RederiveSummary:
    summary = RederiveSummary()
    with engine.connect() as conn:
        ids = [r.id for r in queries.iter_live_records(conn)]
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        run_write(engine, lease_timeout_s, lambda conn, now: _rederive_chunk(conn, now, registry, chunk,
                                                                             summary, dry_run))
        if progress:
            progress(len(chunk))
    return summary


def _rederive_chunk(conn: Connection, now: int, registry: Registry, ids: list[int], summary: RederiveSummary,
                    dry_run: bool) -> None:
    rows = conn.execute(select(records.c.id, records.c.local_id, records.c.native_format,
                                       record_sources.c.native_xml, records.c.stamp)
                        .join(record_sources, record_sources.c.record_id == records.c.id)
                        .where(records.c.id.in_(ids), records.c.deleted.is_(False))).all()
    stored = queries.disseminations_of(conn, ids)
    cleared: list[int] = []
    rendered: list[tuple] = []
    stamps: dict[int, int] = {}
    for row in rows:
        summary.examined += 1
        have = stored.get(row.id, {})
        want = _wanted_versions(registry, row.native_format)
        if {p: v for p, (_, v) in have.items()} == want:
            continue
        summary.rerendered += 1
        fmt = registry.format(row.native_format)
        root = parse_xml(row.native_xml, row.local_id).getroot()
        fresh = render(registry, fmt, root, fmt.serialize(root), "store", row.local_id)
        changed = {p: x for p, (x, _) in fresh.items()} != {p: x for p, (x, _) in have.items()}
        if changed:
            summary.changed += 1
        if dry_run:
            continue
        cleared.append(row.id)
        rendered += [(row.id, p, x, v) for p, (x, v) in fresh.items()]
        if changed:
            stamps[row.id] = max(now, row.stamp + 1)
    if not cleared:
        return
    conn.execute(delete(disseminations).where(disseminations.c.record_id.in_(cleared)))
    insert_renderings(conn, rendered)
    if stamps:
        restamp_records(conn, stamps)
        reindex(conn, list(stamps))  # a DC record's search document comes from its MODS rendering
