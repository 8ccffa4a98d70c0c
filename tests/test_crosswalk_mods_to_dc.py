"""MODS -> oai_dc on the real corpus: always valid, deterministic, and each mapping rule as documented."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from crosswalks.mods_to_dc import mods_to_dc
from crosswalks.trace import NULL_TRACE, Trace
from metadata.formats import DC_NS, MODS_NS, OAI_DC
from metadata.safe_xml import parse_xml
from tests.shared import CORPUS, official_schemas

MODS_FILES = sorted((CORPUS / "mods").glob("*.xml"))
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def records(path: Path) -> list[etree._Element]:
    """The <mods> records in a corpus file (a modsCollection holds several)."""
    root = parse_xml(path.read_bytes(), path.name).getroot()
    if root.tag == f"{{{MODS_NS}}}modsCollection":
        return [c for c in root if c.tag == f"{{{MODS_NS}}}mods"]
    return [root]


@cache
def dc(name: str) -> dict[str, list[str]]:
    """The DC values of the corpus record `name`, by element."""
    out = mods_to_dc(records(CORPUS / "mods" / name)[0], NULL_TRACE)
    values: dict[str, list[str]] = {}
    for el in out:
        values.setdefault(etree.QName(el).localname, []).append(el.text)
    return values


def dc_langs(name: str, element: str) -> dict[str, str | None]:
    out = mods_to_dc(records(CORPUS / "mods" / name)[0], NULL_TRACE)
    return {el.text: el.get(XML_LANG) for el in out if el.tag == f"{{{DC_NS}}}{element}"}


@pytest.mark.parametrize("path", MODS_FILES, ids=lambda p: p.name)
def test_every_corpus_record_gives_valid_deterministic_dc(path):
    schema = official_schemas().load("oai_dc.xsd")
    for record in records(path):
        out = mods_to_dc(record, Trace())
        assert schema.validate(etree.ElementTree(out)), schema.error_log
        assert OAI_DC.serialize(out) == OAI_DC.serialize(mods_to_dc(record, NULL_TRACE))
        for el in out:
            assert el.text and el.text == el.text.strip()


def test_elements_come_in_the_standard_dc_order():
    order = ["title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
             "format", "identifier", "source", "language", "relation", "coverage", "rights"]
    for path in MODS_FILES[::7]:
        names = [etree.QName(el).localname for el in mods_to_dc(records(path)[0], NULL_TRACE)]
        assert names == sorted(names, key=order.index)


def test_title_parts_are_joined_and_the_main_title_comes_first():
    assert dc("tamboti-sociology-uuid-0AF97003-3488-4130-987B-84CF95C7333B.xml")["title"][0].startswith(
        "Household Labor Demand and Household Labor Supply : An empirical analysis")
    titles = dc("loc-metsprofile-00000007-1.xml")["title"]
    assert titles[0] == "The 1946 Library of Congress recital"   # nonSort "The" + title
    assert "Nathan Milstein in recital" in titles                 # the alternative title follows


def test_alternative_script_titles_carry_their_language_and_script():
    assert dc_langs("princeton-ukrainian-001.xml", "title") == {
        "Narodnyĭ prezident: Ol'ga Bogomolet͡s": "ru-Latn",
        "Народный президент: Ольга Богомолец": "ru-Cyrl"}
    langs = dc_langs("princeton-pudl0032-ns73.xml", "creator")
    assert langs["قمي, محمد بن مفيد"] == "ar-Arab"
    assert "陶節菴傷寒全生集 : 四卷" in dc("princeton-pudl0003-tc85_2621.xml")["title"]


def test_roles_choose_creator_or_contributor():
    record = dc("dpla-ma-creator.xml")
    assert record["creator"] == ["Bonet, Honoré, active 1378-1398"]        # role cre; namePart + date
    assert "Lydgate, John, 1370?-1451?" in record["contributor"]           # role ctb
    assert dc("fsu-FSU_2010002_J1232_SR5-02.xml")["creator"] == ["J.R. Clancy (Firm)"]  # "Creator" / cre


def test_names_without_a_role_are_creators_and_corporate_parts_are_joined_with_full_stops():
    assert dc("stanford-bb013fz9675.xml")["creator"] == [
        "Great Britain. War Office. General Staff. Geographical Section.",
        "John Bartholomew and Son", "United States. Army map service."]


def test_start_and_end_dates_become_one_interval_and_the_key_date_comes_first():
    assert dc("stanford-bf385jz2076.xml")["date"] == ["1946/1993", "[1946-1993]"]
    assert dc("princeton-pudl0032-ns73.xml")["date"][0] == "1680"          # keyDate="yes", written second
    assert dc("loc-metsprofile-00000001-1.xml")["date"] == ["1831/.."]     # a start with no end


def test_type_of_resource_becomes_a_dcmi_type_and_genre_stays_as_written():
    record = dc("stanford-bf385jz2076.xml")
    assert record["type"] == ["legislation", "government publication", "text", "Text", "Collection"]
    assert "Sound" in dc("loc-metsprofile-00000007-1.xml")["type"]           # sound recording
    assert "Image" in dc("stanford-bb013fz9675.xml")["type"]                 # cartographic


def test_physical_description_gives_formats():
    assert dc("stanford-bf385jz2076.xml")["format"] == ["print", "unmediated", "volume",
                                                         "19 volumes : maps ; 36 cm"]
    assert "image/tiff" in dc("dpla-ma-creator.xml")["format"]


def test_subject_headings_are_joined_and_places_and_times_are_coverage():
    record = dc("princeton-ukrainian-001.xml")
    assert "Ukraine--History--Euromaidan Protests, 2013-2014" in record["subject"]
    assert {"Ukraine", "1991-", "Russia (Federation)", "2014"} <= set(record["coverage"])
    assert "JS1101.M45 C65" in dc("stanford-bf385jz2076.xml")["subject"]    # classification


def test_hierarchical_geographic_cartographics_and_geographic_codes_are_coverage():
    assert dc("loc-metsprofile-00000020-1.xml")["coverage"] == ["United States--New York--New York"]
    assert dc("dpla-ma-creator.xml")["coverage"] == ["Europe--England", "53,-2", "Europe--France", "46,2"]
    assert "Scale 1:250,000." in dc("stanford-bb013fz9675.xml")["coverage"]
    assert "n-us-ca" in dc("stanford-bf385jz2076.xml")["coverage"]


def test_related_items_become_relation_or_source():
    assert dc("stanford-bb013fz9675.xml")["relation"] == ["GSGS (Series) ; 4042"]           # series
    assert dc("princeton-ukrainian-001.xml")["relation"] == [
        "Ukrainian Election Ephemera -- http://pudl.princeton.edu/collections/pudl0144"]      # host
    assert dc("tamboti-sociology-uuid-0AF97003-3488-4130-987B-84CF95C7333B.xml")["relation"][0].startswith(
        "volume 98-14")                                                                       # host part
    assert dc("loc-metsprofile-00000001-1.xml")["source"] == ["OUM: AL4 Wilts. 1"]          # original


def test_identifiers_say_what_they_are():
    assert dc("pymods-identifier_xml.xml")["identifier"] == [
        "fedora: fsu:1028", "IID: FSU_MSS0204_B03_F10_13", "doi:10.3389/fmicb.2016.00458",
        "http://www.myfloridahouse.gov/filestores/Adhoc/FloridaHandbook/The%20Florida%20Handbook%202013-2014.pdf",
        "http://purl.flvc.org/fsu/fd/FSU_MSS0204_B03_F10_13"]
    assert "lccn: map47000044" in dc("stanford-bb013fz9675.xml")["identifier"]
    assert dc("stanford-bf385jz2076.xml")["identifier"] == ["https://purl.stanford.edu/bf385jz2076"]  # url


def test_language_codes_descriptions_and_rights():
    assert dc("princeton-pudl0003-tc85_2621.xml")["language"] == ["chi"]
    assert dc("stanford-bf385jz2076.xml")["description"][1].startswith("[1] Ordinance no. 143")  # TOC
    assert dc("stanford-bf385jz2076.xml")["rights"][1] == "Materials may be subject to copyright."
    assert dc("princeton-ukrainian-001.xml")["rights"][0].endswith(": http://www.princeton.edu/~rbsc/research/rights.html")


def test_record_info_and_extension_are_not_carried():
    out = mods_to_dc(records(CORPUS / "mods" / "stanford-bf385jz2076.xml")[0], NULL_TRACE)
    values = {el.text for el in out}
    assert "a11860384" not in values and "STF" not in values      # recordIdentifier, recordContentSource
    harvard = {el.text for el in mods_to_dc(records(CORPUS / "mods" / "harvard-arn00007c00002.xml")[0], NULL_TRACE)}
    assert "457731773" not in harvard and "PDS DOCUMENT" not in harvard   # extension/DRSMetadata


def test_a_collection_of_one_record_is_that_record_and_of_several_is_refused():
    record = records(CORPUS / "mods" / "stanford-bf385jz2076.xml")[0]
    collection = etree.Element(f"{{{MODS_NS}}}modsCollection")
    collection.append(etree.fromstring(etree.tostring(record)))
    assert OAI_DC.serialize(mods_to_dc(collection, NULL_TRACE)) == OAI_DC.serialize(mods_to_dc(record, NULL_TRACE))
    collection.append(etree.fromstring(etree.tostring(record)))
    with pytest.raises(ValueError, match="convert each"):
        mods_to_dc(collection, NULL_TRACE)
