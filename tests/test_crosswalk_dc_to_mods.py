"""oai_dc -> MODS on the real corpus: always valid against mods-3-8.xsd, and each mapping rule as documented."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from crosswalks.dc_to_mods import RECORD_ORIGIN, dc_to_mods
from crosswalks.trace import NULL_TRACE, Trace
from metadata.formats import DC_NS, MODS, MODS_NS, OAI_DC_NS
from metadata.safe_xml import parse_xml
from tests.shared import CORPUS, official_schemas

DC_FILES = sorted((CORPUS / "oai_dc").glob("*.xml"))
NS = {"m": MODS_NS}


def load(path: Path) -> etree._Element:
    return parse_xml(path.read_bytes(), path.name).getroot()


def convert(*elements: tuple[str, str]) -> etree._Element:
    """MODS for a DC record made of (element, value) pairs."""
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS})
    for name, value in elements:
        etree.SubElement(root, f"{{{DC_NS}}}{name}").text = value
    out = dc_to_mods(root, NULL_TRACE)
    assert official_schemas().load("mods-3-8.xsd").validate(etree.ElementTree(out))
    return out


def one(out: etree._Element, path: str) -> etree._Element:
    found = out.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, etree.tostring(out))
    return found[0]


@pytest.mark.parametrize("path", DC_FILES, ids=lambda p: p.name)
def test_every_corpus_record_gives_valid_deterministic_mods(path):
    schema = official_schemas().load("mods-3-8.xsd")
    out = dc_to_mods(load(path), Trace())
    assert schema.validate(etree.ElementTree(out)), schema.error_log
    assert out.get("version") == "3.8"
    assert MODS.serialize(out) == MODS.serialize(dc_to_mods(load(path), NULL_TRACE))


def test_an_empty_dc_record_still_gives_a_valid_record():
    out = convert()
    assert one(out, "m:recordInfo/m:recordOrigin").text == RECORD_ORIGIN


def test_names_get_their_dc_role():
    out = convert(("creator", "Dalen, H.P. van"), ("contributor", "Henkens, K."))
    assert one(out, "m:name[m:role/m:roleTerm='creator']/m:namePart").text == "Dalen, H.P. van"
    assert one(out, "m:name[m:role/m:roleTerm='contributor']/m:namePart").text == "Henkens, K."


def test_dates_claim_w3cdtf_only_when_they_are():
    out = convert(("date", "2003-09-02T11:14:49Z"), ("date", "[ca. 1920]"), ("date", "1990/2000"))
    dates = out.xpath("m:originInfo/m:dateIssued", namespaces=NS)
    assert [(d.text, d.get("encoding"), d.get("point"), d.get("keyDate")) for d in dates] == [
        ("2003-09-02T11:14:49Z", "w3cdtf", None, "yes"), ("[ca. 1920]", None, None, None),
        ("1990", "w3cdtf", "start", None), ("2000", "w3cdtf", "end", None)]
    assert one(convert(("date", "2001-02-30"), ), "m:originInfo/m:dateIssued").get("encoding") is None


def test_types_become_type_of_resource_only_when_they_come_back_unchanged():
    out = convert(("type", "Text"), ("type", "Image"), ("type", "text"), ("type", "Working Paper"))
    assert [t.text for t in out.xpath("m:typeOfResource", namespaces=NS)] == ["text"]
    genres = out.xpath("m:genre", namespaces=NS)
    assert [(g.text, g.get("authority")) for g in genres] == [("Image", "dct"), ("text", None), ("Working Paper", None)]


def test_formats_are_sorted_into_media_type_extent_and_form():
    out = convert(("format", "application/pdf"), ("format", "913361 bytes"), ("format", "print"))
    assert one(out, "m:physicalDescription/m:internetMediaType").text == "application/pdf"
    assert one(out, "m:physicalDescription/m:extent").text == "913361 bytes"
    assert one(out, "m:physicalDescription/m:form").text == "print"


def test_identifiers_sources_and_relations():
    out = convert(("identifier", "http://hdl.handle.net/1765/812"), ("identifier", "90-5539-124-7"),
                  ("identifier", "isbn: 0-19-852663-6"), ("identifier", "doi:10.1/x"),
                  ("source", "OUM: AL4 Wilts. 1"), ("relation", "https://doi.org/10.5281/zenodo.10517527"))
    ids = [(i.text, i.get("type")) for i in out.xpath("m:identifier", namespaces=NS)]
    assert ids == [("http://hdl.handle.net/1765/812", "uri"), ("90-5539-124-7", None),
                   ("0-19-852663-6", "isbn"), ("doi:10.1/x", "doi")]
    assert one(out, "m:relatedItem[@type='original']/m:titleInfo/m:title").text == "OUM: AL4 Wilts. 1"
    assert one(out, "m:relatedItem[not(@type)]/m:identifier[@type='uri']").text == \
        "https://doi.org/10.5281/zenodo.10517527"


def test_languages_say_whether_they_are_codes():
    out = convert(("language", "eng"), ("language", "fra"), ("language", "en"), ("language", "English"),
                  ("language", "en_US"))
    terms = [(t.text, t.get("type"), t.get("authority")) for t in out.xpath("m:language/m:languageTerm", namespaces=NS)]
    assert terms == [("eng", "code", "iso639-2b"), ("fra", "code", "iso639-3"), ("en", "code", "rfc5646"),
                     ("English", "text", None), ("en_US", "text", None)]


def test_coverage_is_a_temporal_or_geographic_subject_and_the_rest_is_kept():
    out = convert(("coverage", "California"), ("coverage", "1900-1950"), ("subject", "Ageing"),
                  ("description", "An abstract."), ("publisher", "Zenodo"), ("rights", "CC BY 4.0"),
                  ("title", "Early retirement reform"))
    assert one(out, "m:subject/m:geographic").text == "California"
    assert one(out, "m:subject/m:temporal").text == "1900-1950"
    assert one(out, "m:subject/m:topic").text == "Ageing"
    assert one(out, "m:abstract").text == "An abstract."
    assert one(out, "m:originInfo/m:publisher").text == "Zenodo"
    assert one(out, "m:accessCondition").text == "CC BY 4.0"
    assert one(out, "m:titleInfo/m:title").text == "Early retirement reform"


def test_xml_lang_is_kept():
    root = etree.Element(f"{{{OAI_DC_NS}}}dc")
    title = etree.SubElement(root, f"{{{DC_NS}}}title")
    title.text, title.attrib["{http://www.w3.org/XML/1998/namespace}lang"] = "Народный президент", "ru"
    out = dc_to_mods(root, NULL_TRACE)
    assert one(out, "m:titleInfo/m:title").get("{http://www.w3.org/XML/1998/namespace}lang") == "ru"


def test_empty_values_are_not_written():
    out = convert(("title", "   "), ("subject", ""))
    assert not out.xpath("m:titleInfo | m:subject", namespaces=NS)
