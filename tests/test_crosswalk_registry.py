"""The crosswalks are found through their entry points, and new formats join the chain."""
from __future__ import annotations

import copy

from crosswalks import dc_to_mods, mods_to_dc
from crosswalks.registry import Crosswalk, build_registry
from crosswalks.report import explain
from metadata.formats import OAI_DC, MetadataFormat
from metadata.safe_xml import parse_xml
from tests.shared import CORPUS


def test_entry_points_load_both_crosswalks():
    registry = build_registry()
    assert registry.crosswalks[("mods", "oai_dc")] is mods_to_dc.CROSSWALK
    assert registry.crosswalks[("oai_dc", "mods")] is dc_to_mods.CROSSWALK
    assert registry.reachable("mods") == ["mods", "oai_dc"]
    assert registry.reachable("oai_dc") == ["mods", "oai_dc"]
    assert registry.version("mods", "oai_dc") == "mods->oai_dc@2"


def test_an_added_format_is_reachable_through_a_chain_of_two_crosswalks():
    copy_format = MetadataFormat(prefix="dc_copy", namespace=OAI_DC.namespace, schema_location=OAI_DC.schema_location,
                                 schema_file=OAI_DC.schema_file, root_tag=OAI_DC.root_tag, prefixes=OAI_DC.prefixes)
    to_copy = Crosswalk("oai_dc", "dc_copy", "1", lambda root, trace: copy.deepcopy(root))
    registry = build_registry([copy_format, to_copy])
    assert registry.reachable("mods") == ["dc_copy", "mods", "oai_dc"]
    assert [c.name for c in registry.path("mods", "dc_copy")] == ["mods->oai_dc", "oai_dc->dc_copy"]
    root = parse_xml((CORPUS / "mods" / "stanford-bf385jz2076.xml").read_bytes(), "x").getroot()
    report = explain(root, "mods", "dc_copy", registry)
    assert report.valid and report.complete
    assert report.chain == "mods->oai_dc@2+oai_dc->dc_copy@1"
