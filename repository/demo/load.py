"""Load the demo collection: its sets, its records with their memberships, one withdrawal.

Loading is idempotent: a second run finds every record unchanged and keeps
its datestamp, as a re-ingest of identical records must.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from crosswalks.registry import Registry
from metadata.safe_xml import parse_xml
from repository.config import Settings
from repository.ingest.prepare import prepare
from repository.store import queries, writes

DEMO_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DemoSummary:
    sets_added: int
    written: writes.WriteSummary
    deleted: list[str]


def load_demo(settings: Settings, engine: Engine, registry: Registry, demo_dir: Path = DEMO_DIR) -> DemoSummary:
    spec = json.loads((demo_dir / "collection.json").read_text(encoding="utf-8"))
    lease = settings.write_lease_timeout_seconds
    added = 0
    with engine.connect() as conn:
        existing = {row.spec for row in queries.list_sets(conn, None, 1_000_000)}
    # Parents before children: add_set requires a set's parent to exist.
    for s in sorted(spec["sets"], key=lambda s: s["spec"].count(":")):
        if s["spec"] not in existing:
            writes.add_set(engine, lease, s["spec"], s["name"], s.get("description"))
            added += 1
    mods = registry.format("mods")
    withdrawn = set(spec.get("deleted", []))
    with engine.connect() as conn:
        # A withdrawn record already in the store stays a tombstone: writing it again would revive it.
        tombstones = {local for local in withdrawn if (row := queries.get_record(conn, local, None)) and row.deleted}

    def prepared():
        for local_id, set_specs in sorted(spec["records"].items()):
            if local_id in tombstones:
                continue
            path = demo_dir / "records" / f"{local_id}.xml"
            data = path.read_bytes()
            root = parse_xml(data, str(path)).getroot()
            mods.assert_valid(root, str(path))
            yield prepare(registry, mods, root, local_id, data, frozenset(set_specs), str(path))

    summary = writes.write_records(engine, lease, prepared())
    summary.unchanged += len(tombstones)
    deleted = writes.delete_records(engine, lease, sorted(withdrawn - tombstones)).withdrawn
    return DemoSummary(added, summary, deleted)
