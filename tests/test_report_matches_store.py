"""What `granary crosswalk --report` shows is byte for byte what the store serves."""
from __future__ import annotations

import sqlalchemy as sa

from crosswalks.report import explain
from metadata.safe_xml import parse_xml
from repository.db.tables import disseminations, records
from repository.ingest.pipeline import ingest
from tests.fixtures import corpus_paths


def test_report_output_is_the_stored_dissemination(settings, engine, registry):
    paths = corpus_paths("mods/princeton-*.xml")[:6] + corpus_paths("oai_dc/zenodo-*.xml")[:4]
    ingest(paths, settings, engine, registry, ids_from_record=False)
    with engine.connect() as conn:
        stored = {(local, prefix): xml for local, prefix, xml in conn.execute(
            sa.select(records.c.local_id, disseminations.c.prefix, disseminations.c.xml)
            .join(disseminations, disseminations.c.record_id == records.c.id))}
    for path in paths:
        root = parse_xml(path.read_bytes(), str(path)).getroot()
        source = registry.format_for_root(root.tag).prefix
        target = "oai_dc" if source == "mods" else "mods"
        assert explain(root, source, target, registry).output_bytes == stored[(path.stem, target)], path.name
