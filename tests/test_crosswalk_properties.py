"""Random records: the crosswalks never fail on valid input, always write valid output, trace every node,
and DC -> MODS -> DC gives back every value whatever the text."""
from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from crosswalks.dc_to_mods import dc_to_mods
from crosswalks.mods_to_dc import mods_to_dc
from crosswalks.report import explain
from crosswalks.trace import NULL_TRACE
from crosswalks.vocab import DC_ELEMENTS
from metadata.formats import DC_NS, MODS_NS, OAI_DC_NS, XLINK_NS
from tests.shared import official_schemas

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Any character XML 1.0 allows except controls, surrogates and non-characters.
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn")), max_size=30)
WORDS = st.one_of(TEXT, st.sampled_from(["Text", "text", "Image", "1999", "1990/2000", "2001-02-30", "eng", "en-US",
                                         "isbn: 0-19", "doi:10.1/x", "http://example.org/a", "author", "cre",
                                         "still image", "  padded  ", "19th century", "Kyiv"]))
OPTIONAL = lambda values: st.one_of(st.none(), st.sampled_from(values))  # noqa: E731


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str | None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{MODS_NS}}}{name}", {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


@st.composite
def mods_records(draw) -> etree._Element:
    root = etree.Element(f"{{{MODS_NS}}}mods", nsmap={"mods": MODS_NS, "xlink": XLINK_NS}, version="3.8")
    for kind in draw(st.lists(st.sampled_from(list(_BUILDERS)), min_size=1, max_size=12)):
        _BUILDERS[kind](draw, root)
    return root


def _title_info(draw, parent):
    ti = _el(parent, "titleInfo", type=draw(OPTIONAL(["alternative", "translated", "uniform", "abbreviated"])),
             lang=draw(OPTIONAL(["eng", "rus", "chi", "zz9"])), script=draw(OPTIONAL(["Latn", "Cyrl", "x"])))
    for name in draw(st.lists(st.sampled_from(["nonSort", "title", "subTitle", "partNumber", "partName"]), max_size=5)):
        _el(ti, name, draw(WORDS))


def _name(draw, root):
    name = _el(root, "name", type=draw(OPTIONAL(["personal", "corporate", "conference", "family"])),
               usage=draw(OPTIONAL(["primary"])))
    for _ in range(draw(st.integers(0, 4))):
        _el(name, "namePart", draw(WORDS), type=draw(OPTIONAL(["family", "given", "date", "termsOfAddress"])))
    if draw(st.booleans()):
        _el(name, "displayForm", draw(WORDS))
    if draw(st.booleans()):
        _el(_el(name, "role"), "roleTerm", draw(WORDS), type=draw(OPTIONAL(["code", "text"])))


def _origin_info(draw, root):
    oi = _el(root, "originInfo")
    for _ in range(draw(st.integers(0, 5))):
        tag = draw(st.sampled_from(["dateIssued", "dateCreated", "dateCaptured", "dateOther", "copyrightDate",
                                    "dateValid", "dateModified", "publisher", "edition"]))
        if tag.startswith("date") or tag == "copyrightDate":
            _el(oi, tag, draw(WORDS), encoding=draw(OPTIONAL(["w3cdtf", "iso8601", "marc", "edtf", "temper"])),
                point=draw(OPTIONAL(["start", "end"])), keyDate=draw(OPTIONAL(["yes"])),
                qualifier=draw(OPTIONAL(["approximate", "inferred", "questionable"])))
        else:
            _el(oi, tag, draw(WORDS))
    if draw(st.booleans()):
        _el(_el(oi, "place"), "placeTerm", draw(WORDS), type=draw(OPTIONAL(["code", "text"])))


def _subject(draw, root):
    subject = _el(root, "subject", authority=draw(OPTIONAL(["lcsh", "local"])), lang=draw(OPTIONAL(["ukr"])))
    for kind in draw(st.lists(st.sampled_from(["topic", "geographic", "temporal", "genre", "occupation",
                                                "geographicCode", "name", "titleInfo", "hierarchicalGeographic",
                                                "cartographics"]), max_size=5)):
        if kind == "name":
            _el(_el(subject, "name", type=draw(OPTIONAL(["personal"]))), "namePart", draw(WORDS))
        elif kind == "titleInfo":
            _el(_el(subject, "titleInfo"), "title", draw(WORDS))
        elif kind == "hierarchicalGeographic":
            hg = _el(subject, kind)
            for part in draw(st.lists(st.sampled_from(["continent", "country", "state", "city"]), max_size=4)):
                _el(hg, part, draw(WORDS))
        elif kind == "cartographics":
            carto = _el(subject, kind)
            for part in draw(st.lists(st.sampled_from(["scale", "projection", "coordinates"]), max_size=3)):
                _el(carto, part, draw(WORDS))
        else:
            _el(subject, kind, draw(WORDS))


def _simple(name: str, **attr_values: list[str]):
    def build(draw, root):
        _el(root, name, draw(WORDS), **{k: draw(OPTIONAL(v)) for k, v in attr_values.items()})
    return build


def _type_of_resource(draw, root):
    _el(root, "typeOfResource", draw(st.one_of(WORDS, st.sampled_from(["cartographic", "mixed material",
                                                                        "sound recording-musical"]))),
        collection=draw(OPTIONAL(["yes"])), manuscript=draw(OPTIONAL(["yes"])))


def _physical(draw, root):
    pd = _el(root, "physicalDescription")
    for part in draw(st.lists(st.sampled_from(["form", "extent", "internetMediaType", "note"]), max_size=4)):
        _el(pd, part, draw(WORDS), **({"unit": draw(OPTIONAL(["pages"]))} if part == "extent" else {}))
    if draw(st.booleans()):
        _el(pd, "digitalOrigin", draw(st.sampled_from(["born digital", "reformatted digital"])))


def _location(draw, root):
    loc = _el(root, "location")
    _el(loc, "url", "http://example.org/" + draw(st.text("abc123", max_size=5)),
        access=draw(OPTIONAL(["preview", "raw object", "object in context"])), usage=draw(OPTIONAL(["primary"])))
    if draw(st.booleans()):
        _el(loc, "physicalLocation", draw(WORDS))


def _language(draw, root):
    lang = _el(root, "language")
    for _ in range(draw(st.integers(1, 2))):
        _el(lang, "languageTerm", draw(WORDS), type=draw(OPTIONAL(["code", "text"])),
            authority=draw(OPTIONAL(["iso639-2b", "rfc5646"])))


def _related_item(draw, root):
    item = _el(root, "relatedItem", type=draw(OPTIONAL(["host", "series", "original", "constituent",
                                                         "otherVersion", "isReferencedBy"])))
    if draw(st.booleans()):
        item.set(f"{{{XLINK_NS}}}href", "http://example.org/rel")
    for kind in draw(st.lists(st.sampled_from(["titleInfo", "identifier", "location", "part", "note", "name"]),
                              max_size=4)):
        if kind == "titleInfo":
            _el(_el(item, "titleInfo"), "title", draw(WORDS))
        elif kind == "location":
            _el(_el(item, "location"), "url", "http://example.org/x")
        elif kind == "part":
            part = _el(item, "part")
            detail = _el(part, "detail", type=draw(OPTIONAL(["volume", "issue"])))
            _el(detail, "number", draw(WORDS))
            extent = _el(part, "extent", unit=draw(OPTIONAL(["pages"])))
            _el(extent, "start", draw(WORDS))
        elif kind == "name":
            _el(_el(item, "name"), "namePart", draw(WORDS))
        else:
            _el(item, kind, draw(WORDS))


def _record_info(draw, root):
    _el(_el(root, "recordInfo"), "recordIdentifier", draw(WORDS), source=draw(OPTIONAL(["local"])))


_BUILDERS = {
    "titleInfo": _title_info, "name": _name, "originInfo": _origin_info, "subject": _subject,
    "typeOfResource": _type_of_resource, "physicalDescription": _physical, "location": _location,
    "language": _language, "relatedItem": _related_item, "recordInfo": _record_info,
    "genre": _simple("genre", authority=["dct", "marcgt"]), "abstract": _simple("abstract", type=["summary"]),
    "note": _simple("note", type=["statement of responsibility"]), "tableOfContents": _simple("tableOfContents"),
    "classification": _simple("classification", authority=["lcc", "ddc"]),
    "accessCondition": _simple("accessCondition", type=["use and reproduction", "restriction on access"]),
    "identifier": _simple("identifier", type=["uri", "doi", "hdl", "isbn", "local", "lccn"], invalid=["yes"]),
    "targetAudience": _simple("targetAudience"),
}


@st.composite
def dc_records(draw) -> etree._Element:
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS})
    for name in draw(st.lists(st.sampled_from(DC_ELEMENTS), max_size=20)):
        el = etree.SubElement(root, f"{{{DC_NS}}}{name}")
        el.text = draw(WORDS)
        lang = draw(OPTIONAL(["en", "ru", "zh-Hant"]))
        if lang:
            el.set(XML_LANG, lang)
    return root


def _valid(schema_file: str, root: etree._Element) -> bool:
    return official_schemas().load(schema_file).validate(etree.ElementTree(root))


@SETTINGS
@given(mods_records())
def test_any_valid_mods_gives_valid_dc_and_back_valid_mods(record):
    assume(_valid("mods-3-8.xsd", record))
    report = explain(record, "mods", "oai_dc")
    assert report.valid, report.issues
    assert report.complete, report.uncovered
    assert report.output_bytes == explain(record, "mods", "oai_dc").output_bytes
    assert _valid("mods-3-8.xsd", dc_to_mods(report.output, NULL_TRACE))


def _values(root: etree._Element) -> set[tuple[str, str, str | None]]:
    return {(etree.QName(el).localname, el.text.strip(), el.get(XML_LANG)) for el in root if (el.text or "").strip()}


@SETTINGS
@given(dc_records())
def test_any_dc_gives_valid_mods_and_comes_back_unchanged(record):
    assert _valid("oai_dc.xsd", record)
    report = explain(record, "oai_dc", "mods")
    assert report.valid, report.issues
    assert report.complete, report.uncovered
    back = mods_to_dc(report.output, NULL_TRACE)
    assert _valid("oai_dc.xsd", back)
    # The same value in the same element, in the same language (a repeated value is written once).
    assert {(n, v) for n, v, _ in _values(record)} == {(n, v) for n, v, _ in _values(back)}
    assert _values(back) <= _values(record)
