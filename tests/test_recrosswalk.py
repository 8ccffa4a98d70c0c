"""A crosswalk upgrade re-renders what it produced; datestamps move only where output changed."""
from __future__ import annotations

from itertools import groupby

import sqlalchemy as sa
from lxml import etree

from crosswalks.mods_to_dc import CROSSWALK as MODS_TO_DC
from crosswalks.registry import Crosswalk, build_registry
from metadata.formats import DC_NS
from repository.db.tables import disseminations, records
from repository.ingest.pipeline import ingest
from repository.rederive import rederive
from tests.fixtures import corpus_paths


def _state(engine) -> tuple[dict, dict]:
    with engine.connect() as conn:
        stamps = dict(conn.execute(sa.select(records.c.local_id, records.c.stamp)).all())
        dc = {r.local_id: (r.xml, r.crosswalk_version) for r in conn.execute(
            sa.select(records.c.local_id, disseminations.c.xml, disseminations.c.crosswalk_version)
            .join(disseminations, disseminations.c.record_id == records.c.id)
            .where(disseminations.c.prefix == "oai_dc"))}
    return stamps, dc


def _load(settings, engine, registry) -> list[str]:
    paths = corpus_paths("mods/fsu-*.xml", "mods/tamboti-*.xml")
    ingest(paths, settings, engine, registry, ids_from_record=False)
    return [p.stem for p in paths]


def test_new_version_with_identical_output_keeps_datestamps(settings, engine, registry):
    _load(settings, engine, registry)
    stamps, before = _state(engine)
    bumped = build_registry(extra=[Crosswalk("mods", "oai_dc", MODS_TO_DC.version + ".1", MODS_TO_DC.convert)])
    summary = rederive(engine, bumped, 60)
    assert summary.rerendered == len(stamps) and summary.changed == 0
    after_stamps, after = _state(engine)
    assert after_stamps == stamps
    assert {v for _, v in after.values()} == {f"mods->oai_dc@{MODS_TO_DC.version}.1"}
    assert {k: x for k, (x, _) in after.items()} == {k: x for k, (x, _) in before.items()}
    assert rederive(engine, bumped, 60).rerendered == 0, "a second run has nothing to do"
    # Re-rendered as ingest renders: one format after another (see test_store_writes).
    position = "ctid" if engine.dialect.name == "postgresql" else "rowid"
    with engine.connect() as conn:
        stored = conn.execute(sa.text(f"SELECT prefix FROM disseminations ORDER BY {position}")).scalars().all()
    assert len(stored) == 2 * len(stamps)
    assert [prefix for prefix, _ in groupby(stored)] == ["mods", "oai_dc"]


def test_changed_output_moves_exactly_the_changed_records(settings, engine, registry):
    locals_ = _load(settings, engine, registry)
    stamps, _ = _state(engine)
    target = locals_[0]

    def with_note(root, trace):
        out = MODS_TO_DC.convert(root, trace)
        ident = root.findtext("{http://www.loc.gov/mods/v3}identifier") or ""
        if ident.startswith("FSU_2010002"):  # only the first fsu record's output changes
            etree.SubElement(out, f"{{{DC_NS}}}description").text = "re-derived"
        return out

    bumped = build_registry(extra=[Crosswalk("mods", "oai_dc", MODS_TO_DC.version + ".next", with_note)])
    assert rederive(engine, bumped, 60, dry_run=True).changed == 1
    assert _state(engine)[0] == stamps, "a dry run writes nothing"
    summary = rederive(engine, bumped, 60)
    assert summary.changed == 1
    after, dc = _state(engine)
    moved = {k for k in stamps if after[k] != stamps[k]}
    assert moved == {target} and after[target] > stamps[target]
    assert b"re-derived" in dc[target][0]
