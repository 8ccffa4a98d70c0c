"""MODS 3.x -> simple Dublin Core (oai_dc), after the Library of Congress
"MODS to Dublin Core Metadata Element Set Mapping" (version 3).

Every OAI-PMH harvester can read oai_dc, so this crosswalk decides what most
of the world sees of a MODS record. Where the LoC mapping is silent or
ambiguous the decision and its reason are in docs/crosswalks.md, element by
element; the trace says, for each record, what happened to every element and
attribute. Decisions that the DC -> MODS crosswalk relies on for exact round
trips (identifiers, types, dates) live in shared modules.
"""
from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from crosswalks.identifiers import format_identifier
from crosswalks.languages import bcp47
from crosswalks.mods_text import (M, XLINK_HREF, XML_LANG, join_punct, language_of, name_string, part_string,
                                  text, title_string)
from crosswalks.registry import Crosswalk
from crosswalks.trace import Trace
from crosswalks.tracing import Recorder
from crosswalks.vocab import CREATOR_ROLE_CODES, CREATOR_ROLE_TERMS, DC_ELEMENTS, TYPE_OF_RESOURCE_TO_DCMI
from metadata.formats import DC_NS, OAI_DC_NS

DC = f"{{{DC_NS}}}"
_NSMAP = {"oai_dc": OAI_DC_NS, "dc": DC_NS}
_ROOT = f"{{{OAI_DC_NS}}}dc"
_DATES = frozenset(M + n for n in ("dateIssued", "dateCreated", "dateCaptured", "dateValid", "dateModified",
                                   "copyrightDate", "dateOther", "displayDate"))
_HEADING = frozenset(M + n for n in ("topic", "geographic", "temporal", "genre", "occupation"))
_PLACE_AND_TIME = frozenset(M + n for n in ("geographic", "temporal", "geographicCode"))
_CARTOGRAPHIC = frozenset(M + n for n in ("coordinates", "scale", "projection"))
_DESCRIPTIVE = {M + "form": "format", M + "internetMediaType": "format", M + "extent": "format",
                M + "note": "description"}


class _Walk:
    """What one conversion has found so far: DC values by element, and the recorder if tracing."""

    __slots__ = ("root", "rec", "values")

    def __init__(self, root: etree._Element, rec: Recorder | None) -> None:
        self.root = root
        self.rec = rec
        self.values: dict[str, list[tuple[int, str, str | None]]] = {name: [] for name in DC_ELEMENTS}

    def emit(self, element: str, value: str, source: etree._Element, first: bool = False) -> None:
        """Add a DC value, with the xml:lang of `source` (the first part it was built from) or its nearest
        ancestor that declares a language."""
        lang = None
        found = language_of(source, self.root)
        if found is not None:
            node, attr = found
            lang = node.get(attr) if attr == XML_LANG else bcp47(node.get("lang"), node.get("script"))
            if lang and self.rec:
                self.rec.transformed(node, f"dc:{element}", f"language of the value, written as xml:lang=\"{lang}\"",
                                     attribute=attr)
                if attr == "lang" and "-" in lang:
                    self.rec.transformed(node, f"dc:{element}", f"script subtag of xml:lang=\"{lang}\"",
                                         attribute="script")
        self.values[element].append((0 if first else 1, value, lang))

    def parts(self, nodes: list[etree._Element], element: str, value: str, how: str) -> None:
        """Trace the nodes a value was built from: mapped if one node gave it unchanged, else transformed."""
        if len(nodes) == 1 and text(nodes[0]) == value:
            self.rec.mapped(nodes[0], f"dc:{element}", value)
        else:
            for node in nodes:
                self.rec.transformed(node, f"dc:{element}", how, value)

    def build(self) -> etree._Element:
        root = etree.Element(_ROOT, nsmap=_NSMAP)
        for name in DC_ELEMENTS:
            entries = self.values[name]
            entries.sort(key=lambda e: e[0])
            seen: set[str] = set()
            for _, value, lang in entries:
                if value not in seen:
                    seen.add(value)
                    el = etree.SubElement(root, DC + name)
                    el.text = value
                    if lang:
                        el.set(XML_LANG, lang)
        return root


def _title_info(el: etree._Element, w: _Walk) -> None:
    value, used = title_string(el)
    if value:
        w.emit("title", value, used[0], first=el.get("type") is None or el.get("usage") == "primary")
        if w.rec:
            w.parts(used, "title", value, "joined: nonSort title : subTitle. partNumber, partName")


def _name(el: etree._Element, w: _Walk) -> None:
    value, used = name_string(el)
    if not value:
        return
    terms = [t for role in el if role.tag == M + "role" for t in role if t.tag == M + "roleTerm" and text(t)]
    element = "creator" if not terms or any(_is_creator(t) for t in terms) else "contributor"
    w.emit(element, value, used[0] if used else el)
    if w.rec:
        w.parts(used, element, value, "name parts joined: untyped parts, Family, Given, terms of address, dates")
        for term in terms:
            w.rec.transformed(term, f"dc:{element}", f"role \"{text(term)}\" makes the name a dc:{element}; "
                              "the role itself is not carried", value)
            if term.get("type"):
                w.rec.transformed(term, f"dc:{element}", "says whether the role is a code or a term", value,
                                  attribute="type")
        for part in used:
            if part.get("type"):
                w.rec.transformed(part, f"dc:{element}", f"places the part in the name ({part.get('type')})",
                                  value, attribute="type")


def _is_creator(term: etree._Element) -> bool:
    value = text(term).lower().rstrip(".,;: ")
    kind = term.get("type")
    if kind == "code":
        return value in CREATOR_ROLE_CODES
    if kind == "text":
        return value in CREATOR_ROLE_TERMS
    return value in CREATOR_ROLE_TERMS or value in CREATOR_ROLE_CODES


def _subject(el: etree._Element, w: _Walk) -> None:
    heading: list[tuple[str, list[etree._Element]]] = []
    topical = False
    for child in el:
        if child.tag in _HEADING:
            value, used = text(child), [child]
        elif child.tag == M + "titleInfo":
            value, used = title_string(child)
        elif child.tag == M + "name":
            value, used = name_string(child)
        else:
            continue
        if value:
            heading.append((value, used))
            topical = topical or child.tag not in _PLACE_AND_TIME
    if topical:
        value = "--".join(v for v, _ in heading)
        w.emit("subject", value, heading[0][1][0] if heading[0][1] else el)
        if w.rec:
            w.parts([n for _, used in heading for n in used], "subject", value,
                    "subdivisions of one heading joined with \"--\"")
    for child in el:
        if child.tag in _PLACE_AND_TIME:
            _leaf(child, "coverage", w)
        elif child.tag == M + "hierarchicalGeographic":
            used = [c for c in child if text(c)]
            if used:
                value = "--".join(text(c) for c in used)
                w.emit("coverage", value, used[0])
                if w.rec:
                    w.parts(used, "coverage", value, "place hierarchy joined with \"--\", broadest first")
        elif child.tag == M + "cartographics":
            for c in child:
                if c.tag in _CARTOGRAPHIC:
                    _leaf(c, "coverage", w)


def _leaf(el: etree._Element, element: str, w: _Walk, first: bool = False) -> None:
    """One MODS element whose text is one DC value, unchanged."""
    value = text(el)
    if value:
        w.emit(element, value, el, first)
        if w.rec:
            w.rec.mapped(el, f"dc:{element}", value)


def _text_or_link(el: etree._Element, element: str, w: _Walk) -> None:
    """abstract, tableOfContents, note, accessCondition: the text, then the linked full statement if any."""
    href = el.get(XLINK_HREF, "").strip()
    if not href:
        _leaf(el, element, w)
        return
    value = join_punct(text(el), ": ", href)
    w.emit(element, value, el)
    if w.rec:
        if text(el):
            w.rec.transformed(el, f"dc:{element}", "the text, followed by the link to the full statement", value)
        w.rec.transformed(el, f"dc:{element}", "the link to the full statement", value, attribute=XLINK_HREF)


def _origin_info(el: etree._Element, w: _Walk) -> None:
    entries: list[dict] = []
    open_starts: dict[str, dict] = {}
    for child in el:
        if child.tag == M + "publisher":
            _leaf(child, "publisher", w)
        elif child.tag in _DATES and text(child):
            point = child.get("point")
            if point == "end" and child.tag in open_starts:
                entry = open_starts.pop(child.tag)
                entry["nodes"].append(child)
                entry["end"] = text(child)
            else:
                entry = {"nodes": [child], "start": text(child), "end": None, "point": point}
                entries.append(entry)
                if point == "start":
                    open_starts[child.tag] = entry
    for entry in entries:
        _date(entry, w)


def _date(entry: dict, w: _Walk) -> None:
    nodes = entry["nodes"]
    if entry["end"] is not None:
        value, how = f"{entry['start']}/{entry['end']}", "start and end joined as an interval, start/end"
    elif entry["point"] == "start":
        value, how = f"{entry['start']}/..", "start with no end: written as an open interval, start/.."
    elif entry["point"] == "end":
        value, how = f"../{entry['start']}", "end with no start: written as an open interval, ../end"
    else:
        value, how = entry["start"], ""
    key = any(n.get("keyDate") == "yes" for n in nodes)
    w.emit("date", value, nodes[0], first=key)
    if not w.rec:
        return
    for node in nodes:
        if how:
            w.rec.transformed(node, "dc:date", how, value)
            w.rec.transformed(node, "dc:date", how, value, attribute="point")
        else:
            w.rec.mapped(node, "dc:date", value)
        if node.get("keyDate") == "yes":
            w.rec.transformed(node, "dc:date", "the key date is written first among dc:date", value,
                              attribute="keyDate")


def _type_of_resource(el: etree._Element, w: _Walk) -> None:
    value = text(el)
    if value:
        dcmi = TYPE_OF_RESOURCE_TO_DCMI.get(value.lower())
        w.emit("type", dcmi or value, el)
        if w.rec:
            if dcmi and dcmi != value:
                w.rec.transformed(el, "dc:type", f"MODS type \"{value}\" is DCMI Type \"{dcmi}\"", dcmi)
            else:
                w.rec.mapped(el, "dc:type", value, "" if dcmi else "not a MODS enumerated type: kept as written")
    if el.get("collection") == "yes":
        w.emit("type", "Collection", el)
        if w.rec:
            w.rec.transformed(el, "dc:type", "collection=\"yes\" is DCMI Type \"Collection\"", "Collection",
                              attribute="collection")


def _physical_description(el: etree._Element, w: _Walk) -> None:
    for child in el:
        element = _DESCRIPTIVE.get(child.tag)
        if element is None:
            continue
        if child.tag == M + "extent" and child.get("unit") and text(child):
            value = f"{text(child)} {child.get('unit')}"
            w.emit(element, value, child)
            if w.rec:
                w.rec.transformed(child, "dc:format", "extent followed by its unit", value)
                w.rec.transformed(child, "dc:format", "extent followed by its unit", value, attribute="unit")
        else:
            _leaf(child, element, w)


def _identifier(el: etree._Element, w: _Walk) -> None:
    value = text(el)
    if not value:
        return
    if el.get("invalid") == "yes":
        if w.rec:
            w.rec.dropped(el, "marked invalid (a cancelled or wrong identifier); DC cannot say so, "
                              "and it must not be taken for the resource's identifier")
        return
    out = format_identifier(value, el.get("type"))
    w.emit("identifier", out, el)
    if w.rec:
        if out == value:
            w.rec.mapped(el, "dc:identifier", out)
        else:
            w.rec.transformed(el, "dc:identifier", "the type is written into the value", out)
        if el.get("type"):
            w.rec.transformed(el, "dc:identifier", "the value says what it is" if out == value
                              else f"written as \"{out[: len(out) - len(value)]}\" before the value", out,
                              attribute="type")


def _location(el: etree._Element, w: _Walk) -> None:
    for child in el:
        if child.tag != M + "url":
            continue
        if child.get("access") == "preview":
            if w.rec and text(child):
                w.rec.dropped(child, "a preview (thumbnail) link, not the resource itself")
            continue
        _leaf(child, "identifier", w)


def _related_item(el: etree._Element, w: _Walk) -> None:
    pieces: list[tuple[str, list[etree._Element]]] = []
    for child in el:
        if child.tag == M + "titleInfo":
            pieces.append(title_string(child))
        elif child.tag == M + "identifier" and child.get("invalid") != "yes" and text(child):
            pieces.append((format_identifier(text(child), child.get("type")), [child]))
        elif child.tag == M + "location":
            pieces.extend((text(u), [u]) for u in child
                          if u.tag == M + "url" and u.get("access") != "preview" and text(u))
        elif child.tag == M + "part":
            pieces.append(part_string(child))
    pieces = [(v, used) for v, used in pieces if v]
    href = el.get(XLINK_HREF, "").strip()
    if not pieces and not href:
        return
    element = "source" if el.get("type") == "original" else "relation"
    value = " -- ".join([v for v, _ in pieces] + ([href] if href else []))
    w.emit(element, value, pieces[0][1][0] if pieces and pieces[0][1] else el)
    if not w.rec:
        return
    w.parts([n for _, used in pieces for n in used], element, value,
            "title, part, identifiers and links of the related item joined with \" -- \"")
    for _, used in pieces:
        for node in used:
            if node.tag == M + "identifier" and node.get("type"):
                w.rec.transformed(node, f"dc:{element}", "the type is written into the value", value,
                                  attribute="type")
    if href:
        w.rec.transformed(el, f"dc:{element}", "link to the related item's record", value, attribute=XLINK_HREF)
    w.rec.transformed(el, f"dc:{element}", f"type \"{el.get('type')}\" makes it a dc:{element}" if el.get("type")
                      else "a related item of no stated type is a dc:relation", value,
                      attribute="type" if el.get("type") else None)


def _language(el: etree._Element, w: _Walk) -> None:
    terms = [t for t in el if t.tag == M + "languageTerm" and text(t)]
    codes = [t for t in terms if t.get("type") == "code"]
    for term in codes or terms:
        _leaf(term, "language", w)
    if w.rec and codes:
        for term in terms:
            if term.get("type") == "code":
                w.rec.transformed(term, "dc:language", "a code is preferred to a language name", text(term),
                                  attribute="type")
            else:
                w.rec.dropped(term, "the same language is also given as a code, which DC recommends")


_HANDLERS: dict[str, Callable[[etree._Element, _Walk], None]] = {
    M + "titleInfo": _title_info,
    M + "name": _name,
    M + "subject": _subject,
    M + "classification": lambda el, w: _leaf(el, "subject", w),
    M + "abstract": lambda el, w: _text_or_link(el, "description", w),
    M + "tableOfContents": lambda el, w: _text_or_link(el, "description", w),
    M + "note": lambda el, w: _text_or_link(el, "description", w),
    M + "originInfo": _origin_info,
    M + "typeOfResource": _type_of_resource,
    M + "genre": lambda el, w: _leaf(el, "type", w),
    M + "physicalDescription": _physical_description,
    M + "identifier": _identifier,
    M + "location": _location,
    M + "relatedItem": _related_item,
    M + "language": _language,
    M + "accessCondition": lambda el, w: _text_or_link(el, "rights", w),
}


def mods_to_dc(root: etree._Element, trace: Trace) -> etree._Element:
    record = root
    if root.tag == M + "modsCollection":
        records = [c for c in root if c.tag == M + "mods"]
        if len(records) != 1:
            raise ValueError(f"a modsCollection of {len(records)} records is not one record; convert each <mods>")
        record = records[0]
    rec = Recorder(trace) if trace.enabled else None
    walk = _Walk(record, rec)
    for child in record:
        handler = _HANDLERS.get(child.tag)
        if handler is not None:
            handler(child, walk)
    if rec:
        rec.finish(root, _why_dropped)
    return walk.build()


# Why an element or attribute the crosswalk did not carry is left out. Keys: "parent/name",
# "name", "element/@attribute" or "@attribute".
_RELATED_REST = ("a related item is identified in DC by its title, part, identifiers and links; "
                 "the rest of its description has no place in one dc:relation/dc:source value")
_WHY: dict[str, str] = {
    "mods": "the record itself: its parts are reported one by one",
    "recordInfo": "describes the metadata record, not the resource; DC 1.1 describes resources only",
    "extension": "local, non-MODS data whose meaning the crosswalk cannot know",
    "targetAudience": "DC 1.1 has no audience element (dcterms:audience is not part of oai_dc)",
    "part": "locates this item inside its host; DC 1.1 cannot attach it to the dc:relation of the host",
    "place": "DC 1.1 has no element for the place of publication (dc:coverage is what the resource is about)",
    "edition": "DC 1.1 has no edition element",
    "issuance": "the mode of issuance has no DC 1.1 equivalent",
    "frequency": "the publication frequency has no DC 1.1 equivalent",
    "agent": "DC 1.1 cannot say what role an originInfo agent played",
    "digitalOrigin": "describes how the digital object was made, not its format",
    "reformattingQuality": "describes the quality of the reproduction, not its format",
    "physicalLocation": "the holding institution is not the publisher, and DC 1.1 has no holdings element",
    "shelfLocator": "a shelf mark identifies a copy at one institution, not the resource",
    "holdingSimple": "holdings describe copies at one institution, not the resource",
    "holdingExternal": "holdings describe copies at one institution, not the resource",
    "affiliation": "an affiliation is not part of the name, and DC 1.1 cannot attach it to the name",
    "name/description": "DC 1.1 cannot attach a description to a name",
    "nameIdentifier": "DC 1.1 cannot attach an identifier to a name",
    "alternativeName": "another form of the same name; writing it would count the person twice",
    "displayForm": "another form of the name, which is given by its nameParts",
    "etal": "DC 1.1 has no way to say that more names were left out",
    "role": "container: its roleTerms decide between dc:creator and dc:contributor",
    "scriptTerm": "DC 1.1 has no script element",
    "cartographicExtent": "DC 1.1 has no element for a map's extent",
    "@ID": "an identifier of a part of the MODS document",
    "@IDREF": "a link inside the MODS document",
    "@version": "the MODS version of the document",
    "@xsi:schemaLocation": "the output names its own schema",
    "@schemaLocation": "the output names its own schema",
    "@type": "simple DC has no way to say what kind of value this is",
    "name/@type": "DC 1.1 cannot tell persons from organisations; used only to choose how parts are joined",
    "titleInfo/@type": "DC 1.1 has one title element: alternative, translated, uniform and abbreviated titles "
                       "are written as further dc:title after the main title",
    "note/@type": "DC 1.1 has no note types; the note is a dc:description",
    "accessCondition/@type": "dc:rights covers both use and access restrictions",
    "subject/@authority": "oai_dc cannot name the vocabulary (no xsi:type on dc:subject)",
    "@authority": "oai_dc cannot name the vocabulary or code list",
    "@authorityURI": "oai_dc cannot name the vocabulary",
    "@valueURI": "oai_dc cannot carry the URI of a controlled term beside its label",
    "@displayLabel": "a display label is presentation, and oai_dc has no attribute for it",
    "@altRepGroup": "links alternative script versions; each version is written on its own",
    "@nameTitleGroup": "links a name to a uniform title; DC 1.1 cannot",
    "@usage": "DC 1.1 cannot mark a value as primary",
    "@supplied": "DC 1.1 cannot say that the cataloguer supplied a value",
    "@encoding": "the value is written as given; DC 1.1 cannot name the date encoding",
    "@qualifier": "DC 1.1 cannot say that a date is approximate, inferred or questionable; "
                  "the date is written as given",
    "@point": "only start and end dates of the same kind in one originInfo are joined",
    "@keyDate": "the key date is written first among dc:date",
    "@transliteration": "DC 1.1 cannot name a transliteration scheme",
    "@script": "only a script with an ISO 639-2 @lang becomes part of xml:lang",
    "@lang": "no DC value was built from this element, or @lang is not an ISO 639-2 code",
    "@xml:lang": "no DC value was built from this element",
    "@unit": "only an extent's unit is carried",
    "@manuscript": "DC 1.1 cannot say that a resource is handwritten",
    "@collection": "only collection=\"yes\" is carried, as dc:type Collection",
    "@invalid": "invalid identifiers are not carried",
    "@access": "DC 1.1 cannot say how a link presents the resource",
    "@note": "DC 1.1 cannot attach a note to a link",
    "@dateLastAccessed": "DC 1.1 cannot attach a date to a link",
    "@objectPart": "DC 1.1 cannot say which part of the resource is in the language",
    "@eventType": "DC 1.1 cannot say which event a date or publisher belongs to",
    "@otherType": "DC 1.1 has one relation element for every kind of relation",
    "@otherTypeAuth": "DC 1.1 has one relation element for every kind of relation",
    "@otherTypeAuthURI": "DC 1.1 has one relation element for every kind of relation",
    "@otherTypeURI": "DC 1.1 has one relation element for every kind of relation",
    "@typeURI": "oai_dc cannot name the identifier scheme's URI",
    "@shareable": "DC 1.1 has no sharing flag",
    "@altFormat": "DC 1.1 cannot link an alternative format of a value",
    "@contentType": "DC 1.1 cannot link an alternative format of a value",
    "@xlink:href": "DC 1.1 cannot carry a link beside this value",
    "@xlink:type": "XLink bookkeeping",
    "@xlink:role": "XLink bookkeeping",
    "@xlink:arcrole": "XLink bookkeeping",
    "@xlink:title": "XLink bookkeeping",
    "@xlink:show": "XLink bookkeeping",
    "@xlink:actuate": "XLink bookkeeping",
    "@xml:space": "whitespace handling of the source",
}


def _why_dropped(el: etree._Element, attribute: str | None) -> str | None:
    name = etree.QName(el).localname if isinstance(el.tag, str) else ""
    if attribute is None:
        parent = el.getparent()
        pname = etree.QName(parent).localname if parent is not None else ""
        if pname == "relatedItem" and el.tag != M + "titleInfo":
            return _RELATED_REST
        if etree.QName(el).namespace != M[1:-1]:
            return None
        return _WHY.get(f"{pname}/{name}") or _WHY.get(name)
    q = etree.QName(attribute)
    prefix = {"http://www.w3.org/1999/xlink": "xlink:", "http://www.w3.org/XML/1998/namespace": "xml:",
              "http://www.w3.org/2001/XMLSchema-instance": "xsi:"}.get(q.namespace or "", "")
    attr = f"@{prefix}{q.localname}"
    return _WHY.get(f"{name}/{attr}") or _WHY.get(attr)


CROSSWALK = Crosswalk(
    source="mods",
    target="oai_dc",
    version="1",
    convert=mods_to_dc,
    description="MODS 3.x to simple Dublin Core after the LoC MODS to Dublin Core mapping (version 3); "
                "decisions in docs/crosswalks.md",
)
