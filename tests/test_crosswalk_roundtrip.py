"""Round trips on the whole corpus: DC -> MODS -> DC gives back every value; MODS -> DC -> MODS keeps what DC can carry."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from crosswalks.dc_to_mods import dc_to_mods
from crosswalks.mods_to_dc import mods_to_dc
from crosswalks.trace import NULL_TRACE
from crosswalks.vocab import DCMI_TO_TYPE_OF_RESOURCE
from metadata.formats import MODS_NS
from metadata.safe_xml import parse_xml
from tests.shared import CORPUS, official_schemas

NS = {"m": MODS_NS}


def load(path: Path) -> etree._Element:
    return parse_xml(path.read_bytes(), path.name).getroot()


def dc_values(root: etree._Element) -> set[tuple[str, str]]:
    return {(etree.QName(el).localname, (el.text or "").strip()) for el in root
            if isinstance(el.tag, str) and (el.text or "").strip()}


@pytest.mark.parametrize("path", sorted((CORPUS / "oai_dc").glob("*.xml")), ids=lambda p: p.name)
def test_dc_to_mods_to_dc_gives_back_every_value_in_the_same_element(path):
    source = load(path)
    back = mods_to_dc(dc_to_mods(source, NULL_TRACE), NULL_TRACE)
    assert dc_values(source) <= dc_values(back)
    assert dc_values(back) <= dc_values(source)   # and invents nothing


def texts(root: etree._Element, path: str) -> set[str]:
    return {" ".join(e.split()) for e in root.xpath(f"{path}/text()", namespaces=NS) if e.strip()}


@pytest.mark.parametrize("path", sorted((CORPUS / "mods").glob("*.xml")), ids=lambda p: p.name)
def test_mods_to_dc_to_mods_keeps_titles_names_dates_and_subjects(path):
    source = load(path)
    again = dc_to_mods(mods_to_dc(source, NULL_TRACE), NULL_TRACE)
    assert official_schemas().load("mods-3-8.xsd").validate(etree.ElementTree(again))
    kept = {" ".join(v.split()) for v in again.xpath("//text()") if v.strip()}
    joined = " | ".join(kept)
    # Every plain title, topic and publisher survives verbatim; dates and names survive inside their DC value.
    for path_ in ("m:titleInfo[not(m:subTitle|m:partNumber|m:partName|m:nonSort)]/m:title",
                  "m:subject[count(*)=1]/m:topic", "m:originInfo/m:publisher", "m:abstract"):
        assert texts(source, path_) <= kept, path_
    # A genre that is a DCMI type comes back as the equivalent typeOfResource.
    assert {DCMI_TO_TYPE_OF_RESOURCE.get(g, g) for g in texts(source, "m:genre")} <= kept
    for path_ in ("m:originInfo/*[starts-with(local-name(), 'date')]", "m:name/m:namePart",
                  "m:subject/m:topic", "m:subject/m:geographic"):
        for value in texts(source, path_):
            assert value in joined, (path_, value)
