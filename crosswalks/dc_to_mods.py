"""Simple Dublin Core (oai_dc) -> MODS 3.8, after the Library of Congress
"Dublin Core Metadata Element Set Mapping to MODS" (version 3).

Harvested DC is often the only description a repository gets of a resource,
and MODS is the format it keeps; so this crosswalk is written to lose nothing:
every DC value lands in one MODS element, chosen so that the MODS -> DC
crosswalk gives back the same string in the same DC element (DC -> MODS -> DC
is exact). Where the LoC mapping leaves a choice, the decision and its reason
are in docs/crosswalks.md.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from crosswalks.dates import is_w3cdtf, looks_temporal, w3cdtf_interval
from crosswalks.identifiers import parse_identifier
from crosswalks.languages import language_term
from crosswalks.mods_text import M, XML_LANG, text
from crosswalks.registry import Crosswalk
from crosswalks.trace import Trace
from crosswalks.tracing import Recorder
from crosswalks.vocab import DCMI_TO_TYPE_OF_RESOURCE, DCMI_TYPES
from metadata.formats import DC_NS, MODS_NS

DC = f"{{{DC_NS}}}"
_ORDER = ("titleInfo", "name", "typeOfResource", "genre", "originInfo", "language", "physicalDescription",
          "abstract", "subject", "relatedItem", "identifier", "accessCondition", "recordInfo")
_MIME = re.compile(r"(application|audio|font|image|message|model|multipart|text|video|chemical|x-[\w.+-]+)"
                   r"/[\w.+-]+(\s*;.*)?", re.I)
RECORD_ORIGIN = "Converted from simple Dublin Core (oai_dc) by the Granary oai_dc->mods crosswalk"


class _Build:
    """The MODS record being written: top-level elements grouped in a fixed, schema-valid order.

    Top-level elements are made inside the record from the start (a detached
    element would cost a document of its own) and put in order at the end.
    """

    __slots__ = ("rec", "root", "groups", "origin", "physical", "key_date")

    def __init__(self, rec: Recorder | None) -> None:
        self.rec = rec
        self.root = etree.Element(M + "mods", nsmap={"mods": MODS_NS}, version="3.8")
        self.groups: dict[str, list[etree._Element]] = {name: [] for name in _ORDER}
        self.origin: etree._Element | None = None
        self.physical: etree._Element | None = None
        self.key_date = False

    def top(self, name: str, **attrs: str) -> etree._Element:
        el = etree.SubElement(self.root, M + name, attrs)
        self.groups[name].append(el)
        return el

    def origin_info(self) -> etree._Element:
        if self.origin is None:
            self.origin = self.top("originInfo")
        return self.origin

    def physical_description(self) -> etree._Element:
        if self.physical is None:
            self.physical = self.top("physicalDescription")
        return self.physical

    def leaf(self, parent: etree._Element | None, name: str, source: etree._Element, value: str,
             **attrs: str) -> etree._Element:
        """A text element carrying `value` (top-level if no parent), in the language the DC element declared."""
        el = self.top(name, **attrs) if parent is None else etree.SubElement(parent, M + name, attrs)
        el.text = value
        lang = source.get(XML_LANG)
        if lang:
            el.set(XML_LANG, lang)
            if self.rec:
                self.rec.mapped(source, _path(el), (), "copied as xml:lang", attribute=XML_LANG)
        return el

    def build(self) -> etree._Element:
        record_info = self.top("recordInfo")
        etree.SubElement(record_info, M + "recordOrigin").text = RECORD_ORIGIN
        for name in _ORDER:
            self.root.extend(self.groups[name])   # moves each to the end, so they end up in this order
        return self.root


def _path(el: etree._Element) -> str:
    """The target path relative to the MODS root, e.g. originInfo/dateIssued."""
    steps = []
    cur = el
    parent = cur.getparent()
    while parent is not None:
        steps.append(etree.QName(cur).localname)
        cur, parent = parent, parent.getparent()
    return "/".join(reversed(steps))


def _title(el: etree._Element, value: str, b: _Build) -> None:
    _mapped(el, b.leaf(b.top("titleInfo"), "title", el, value), value, b)


def _name(role: str) -> Callable[[etree._Element, str, _Build], None]:
    def handler(el: etree._Element, value: str, b: _Build) -> None:
        name = b.top("name")
        part = b.leaf(name, "namePart", el, value)
        term = etree.SubElement(etree.SubElement(name, M + "role"), M + "roleTerm", type="text",
                                authority="marcrelator")
        term.text = role
        _mapped(el, part, value, b, f"with role \"{role}\"")
    return handler


def _subject(el: etree._Element, value: str, b: _Build) -> None:
    _mapped(el, b.leaf(b.top("subject"), "topic", el, value), value, b)


def _description(el: etree._Element, value: str, b: _Build) -> None:
    _mapped(el, b.leaf(None, "abstract", el, value), value, b)


def _publisher(el: etree._Element, value: str, b: _Build) -> None:
    _mapped(el, b.leaf(b.origin_info(), "publisher", el, value), value, b)


def _date(el: etree._Element, value: str, b: _Build) -> None:
    key = {} if b.key_date else {"keyDate": "yes"}
    b.key_date = True
    interval = w3cdtf_interval(value)
    if interval:
        start = b.leaf(b.origin_info(), "dateIssued", el, interval[0], encoding="w3cdtf", point="start", **key)
        b.leaf(b.origin_info(), "dateIssued", el, interval[1], encoding="w3cdtf", point="end")
        if b.rec:
            b.rec.transformed(el, _path(start), "a W3CDTF interval split into start and end dates", interval)
        return
    attrs = {"encoding": "w3cdtf"} if is_w3cdtf(value) else {}
    date = b.leaf(b.origin_info(), "dateIssued", el, value, **attrs, **key)
    _mapped(el, date, value, b, "a valid W3CDTF date, so encoding=\"w3cdtf\"" if attrs else "")


def _type(el: etree._Element, value: str, b: _Build) -> None:
    mods_type = DCMI_TO_TYPE_OF_RESOURCE.get(value)
    if mods_type:
        b.leaf(None, "typeOfResource", el, mods_type)
        if b.rec:
            b.rec.transformed(el, "typeOfResource", f"DCMI Type \"{value}\" is MODS type \"{mods_type}\"",
                              mods_type)
        return
    genre = b.leaf(None, "genre", el, value, **({"authority": "dct"} if value in DCMI_TYPES else {}))
    _mapped(el, genre, value, b, "a DCMI Type with no exact typeOfResource" if value in DCMI_TYPES else "")


def _format(el: etree._Element, value: str, b: _Build) -> None:
    if _MIME.fullmatch(value):
        name, note = "internetMediaType", "looks like a MIME type"
    elif value[0].isdigit():
        name, note = "extent", "starts with a number: a size or extent"
    else:
        name, note = "form", ""
    _mapped(el, b.leaf(b.physical_description(), name, el, value), value, b, note)


def _identifier(el: etree._Element, value: str, b: _Build) -> None:
    bare, kind = parse_identifier(value)
    out = b.leaf(None, "identifier", el, bare, **({"type": kind} if kind else {}))
    if bare == value:
        _mapped(el, out, value, b, f"type \"{kind}\"" if kind else "")
    elif b.rec:
        b.rec.transformed(el, "identifier", f"the label \"{kind}: \" became type=\"{kind}\"", bare)


def _related(kind: str | None) -> Callable[[etree._Element, str, _Build], None]:
    def handler(el: etree._Element, value: str, b: _Build) -> None:
        item = b.top("relatedItem", type=kind) if kind else b.top("relatedItem")
        bare, id_type = parse_identifier(value)
        if id_type:
            out = b.leaf(item, "identifier", el, bare, type=id_type)
            if bare == value:
                _mapped(el, out, value, b, f"an identifier ({id_type}) of the related item")
            elif b.rec:
                b.rec.transformed(el, "relatedItem/identifier", f"the label \"{id_type}: \" became "
                                  f"type=\"{id_type}\"", bare)
        else:
            _mapped(el, b.leaf(etree.SubElement(item, M + "titleInfo"), "title", el, value), value, b,
                    "the title of the related item")
    return handler


def _language(el: etree._Element, value: str, b: _Build) -> None:
    kind, authority = language_term(value)
    attrs = {"type": kind, "authority": authority} if authority else {"type": kind}
    _mapped(el, b.leaf(b.top("language"), "languageTerm", el, value, **attrs), value, b,
            f"a {authority} code" if authority else f"a language {'code' if kind == 'code' else 'name'}")


def _coverage(el: etree._Element, value: str, b: _Build) -> None:
    name = "temporal" if looks_temporal(value) else "geographic"
    _mapped(el, b.leaf(b.top("subject"), name, el, value), value, b,
            "names a time" if name == "temporal" else "taken to name a place")


def _rights(el: etree._Element, value: str, b: _Build) -> None:
    _mapped(el, b.leaf(None, "accessCondition", el, value), value, b)


def _mapped(source: etree._Element, out: etree._Element, value: str, b: _Build, note: str = "") -> None:
    if b.rec:
        b.rec.mapped(source, _path(out), value, note)


_HANDLERS: dict[str, Callable[[etree._Element, str, _Build], None]] = {
    DC + "title": _title,
    DC + "creator": _name("creator"),
    DC + "subject": _subject,
    DC + "description": _description,
    DC + "publisher": _publisher,
    DC + "contributor": _name("contributor"),
    DC + "date": _date,
    DC + "type": _type,
    DC + "format": _format,
    DC + "identifier": _identifier,
    DC + "source": _related("original"),
    DC + "language": _language,
    DC + "relation": _related(None),
    DC + "coverage": _coverage,
    DC + "rights": _rights,
}


def dc_to_mods(root: etree._Element, trace: Trace) -> etree._Element:
    rec = Recorder(trace) if trace.enabled else None
    build = _Build(rec)
    for child in root:
        handler = _HANDLERS.get(child.tag)
        if handler is None:
            continue
        value = text(child)
        if value:
            handler(child, value, build)
        elif rec:
            rec.dropped(child, "empty: there is no value to carry")
    out = build.build()
    if rec:
        rec.finish(root, _why_dropped)
    return out


def _why_dropped(el: etree._Element, attribute: str | None) -> str | None:
    if attribute is not None:
        return "the output names its own schema" if etree.QName(attribute).localname == "schemaLocation" else None
    if el.tag in _HANDLERS:
        return None
    return "not one of the 15 Dublin Core elements"


CROSSWALK = Crosswalk(
    source="oai_dc",
    target="mods",
    version="1",
    convert=dc_to_mods,
    description="simple Dublin Core to MODS 3.8 after the LoC Dublin Core to MODS mapping (version 3), "
                "written so that DC -> MODS -> DC gives every value back; decisions in docs/crosswalks.md",
)
