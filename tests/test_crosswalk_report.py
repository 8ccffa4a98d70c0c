"""The record report: complete for every corpus record, and every claim it makes is true of the output."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from crosswalks.collection_check import CollectionCheck, generalise
from crosswalks.registry import Crosswalk, build_registry
from crosswalks.report import explain
from crosswalks.trace import Outcome, node_path
from metadata.formats import DC_NS, MODS_NS
from metadata.safe_xml import parse_xml
from tests.shared import CORPUS

CASES = [(p, "mods", "oai_dc") for p in sorted((CORPUS / "mods").glob("*.xml"))] + \
        [(p, "oai_dc", "mods") for p in sorted((CORPUS / "oai_dc").glob("*.xml"))]


def load(path: Path) -> etree._Element:
    return parse_xml(path.read_bytes(), path.name).getroot()


def target_texts(output: etree._Element, target: str) -> set[str]:
    """Texts of the output elements a trace target names: "dc:title" or a MODS path such as "name/namePart"."""
    if target.startswith("dc:"):
        return {(e.text or "").strip() for e in output.iter(f"{{{DC_NS}}}{target[3:]}")}
    xpath = "/".join(f"m:{step}" for step in target.split("/"))
    return {"".join(e.itertext()).strip() for e in output.xpath(xpath, namespaces={"m": MODS_NS})}


@pytest.mark.parametrize("path,source,target", CASES, ids=lambda v: v.name if isinstance(v, Path) else v)
def test_report_is_complete_valid_and_true(path, source, target):
    root = load(path)
    report = explain(root, source, target)
    assert report.valid, report.issues
    assert report.complete, report.uncovered
    # Every mapped or transformed value is the text of an output element its targets name.
    for event in report.events:
        if event.outcome is not Outcome.DROPPED:
            for value in event.values:
                assert any(value in target_texts(report.output, t) for t in event.targets), event
    # An element reported only as dropped does not reach the output, unless another node carries its text.
    nodes = {node_path(el): el for el in root.iter(etree.Element)}
    carried = {e.source_path for e in report.events if e.outcome is not Outcome.DROPPED}
    carried_texts = {(nodes[p].text or "").strip() for p in carried if p in nodes} | {
        v for e in report.events if e.outcome is not Outcome.DROPPED for v in e.values}
    output_texts = {(e.text or "").strip() for e in report.output.iter(etree.Element)}
    for event in report.events:
        el = nodes.get(event.source_path)
        if event.outcome is Outcome.DROPPED and el is not None and event.source_path not in carried:
            value = (el.text or "").strip()
            if value and value not in carried_texts:
                assert value not in output_texts, event


def test_report_renders_for_a_terminal_and_for_json():
    report = explain(load(CORPUS / "mods" / "princeton-ukrainian-001.xml"), "mods", "oai_dc")
    text = report.to_text()
    assert "/mods/titleInfo[1]/title" in text and "output is valid oai_dc" in text
    assert "/mods/recordInfo" in text and "describes the metadata record" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["valid"] and data["complete"] and data["chain"] == "mods->oai_dc@2"
    assert {e["outcome"] for e in data["events"]} == {"mapped", "transformed", "dropped"}


def test_a_crosswalk_that_traces_nothing_is_caught_by_the_coverage_check():
    silent = Crosswalk("mods", "oai_dc", "0", lambda root, trace: etree.Element("{%s}dc" % "http://www.openarchives.org/OAI/2.0/oai_dc/"))
    report = explain(load(CORPUS / "mods" / "stanford-bf385jz2076.xml"), "mods", "oai_dc", build_registry([silent]))
    assert not report.complete and "/mods/titleInfo/title" in report.uncovered


def test_collection_check_counts_lost_paths_and_invalid_outputs():
    check = CollectionCheck()
    names = ["stanford-bf385jz2076.xml", "princeton-ukrainian-001.xml", "loc-metsprofile-00000020-1.xml"]
    for name in names:
        check.add(name, load(CORPUS / "mods" / name), "mods")
    check.add("zenodo", load(CORPUS / "oai_dc" / "zenodo-oai_zenodo.org_10517528.xml"), "oai_dc")
    result = check.result()
    assert result.records == 4
    assert result.carried["/mods/recordInfo"] == 3
    assert result.lost["/mods/recordInfo"] == {"mods->oai_dc@2": 3}
    assert "/mods/titleInfo/title" not in result.lost
    assert result.carried["/dc/title"] == 1 and not result.invalid and not result.failed
    assert generalise("/mods/name[2]/namePart[1]") == "/mods/name/namePart"
    assert "every output is valid" in check.to_text()
    assert json.dumps(check.to_dict())


def test_collection_check_reports_invalid_output_with_examples():
    broken = Crosswalk("mods", "oai_dc", "0", lambda root, trace: etree.Element("{%s}wrong" % DC_NS))
    check = CollectionCheck(build_registry([broken]))
    for i in range(7):
        check.add(f"rec{i}", load(CORPUS / "mods" / "stanford-bf385jz2076.xml"), "mods")
    problem = check.result().invalid["mods->oai_dc@0"]
    assert problem.count == 7 and problem.examples == [f"rec{i}" for i in range(5)]
