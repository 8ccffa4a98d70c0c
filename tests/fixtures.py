"""A small repository built from the real corpus, with sets, a hierarchy and a tombstone."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from repository.db.tables import record_sets, records
from repository.ingest.pipeline import ingest
from repository.store import writes
from tests.shared import CORPUS

SETS = [("stanford", "Stanford University Libraries", "Maps, manuscripts and more from SDR"),
        ("princeton", "Princeton University Library", None),
        ("princeton:ukrainian", "Ukrainian and Russian election ephemera", "Cyrillic records"),
        ("dc", "Dublin Core records", None)]


def load_corpus(settings, engine, registry) -> dict[str, list[str]]:
    """Load Stanford and Princeton MODS and the oai_dc corpus; withdraw one record."""
    lease = settings.write_lease_timeout_seconds
    for spec, name, desc in SETS:
        writes.add_set(engine, lease, spec, name, desc)
    stanford = sorted(CORPUS.glob("mods/stanford-*.xml"))
    princeton = sorted(p for p in CORPUS.glob("mods/princeton-*.xml") if "ukrainian" not in p.name)
    ukrainian = sorted(CORPUS.glob("mods/princeton-ukrainian-*.xml"))
    dc = dc_corpus()
    ingest(stanford, settings, engine, registry, frozenset({"stanford"}), ids_from_record=False)
    ingest(princeton, settings, engine, registry, frozenset({"princeton"}), ids_from_record=False)
    ingest(ukrainian, settings, engine, registry, frozenset({"princeton:ukrainian"}), ids_from_record=False)
    ingest(dc, settings, engine, registry, frozenset({"dc"}), ids_from_record=False)
    writes.delete_record(engine, lease, "stanford-bb013fz9675")
    return {"stanford": [p.stem for p in stanford], "princeton": [p.stem for p in princeton],
            "princeton:ukrainian": [p.stem for p in ukrainian], "dc": [p.stem for p in dc]}


def dc_corpus() -> list[Path]:
    """The oai_dc records, less the two Stanford ones that share a file name with a MODS record."""
    mods_stems = {p.stem for p in CORPUS.glob("mods/*.xml")}
    return sorted(p for p in CORPUS.glob("oai_dc/*.xml") if p.stem not in mods_stems)


def set_datestamp(engine, local_id: str, when: str) -> None:
    """Put a record at a chosen datestamp (tests of date ranges need fixed times)."""
    stamp = int(datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()) * 1_000_000
    with engine.begin() as conn:
        rid = conn.execute(sa.select(records.c.id).where(records.c.local_id == local_id)).scalar_one()
        conn.execute(sa.update(records).where(records.c.id == rid).values(stamp=stamp))
        conn.execute(sa.update(record_sets).where(record_sets.c.record_id == rid).values(stamp=stamp))


def corpus_paths(*globs: str) -> list[Path]:
    return sorted(p for g in globs for p in CORPUS.glob(g))
