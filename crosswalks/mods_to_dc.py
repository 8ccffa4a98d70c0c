"""MODS 3.x -> simple Dublin Core (oai_dc), after the Library of Congress
"MODS to Dublin Core Metadata Element Set Mapping" (version 3).

Every OAI-PMH harvester can read oai_dc, so this crosswalk decides what most
of the world sees of a MODS record. Where the LoC mapping is silent or
ambiguous the decision and its reason are in docs/crosswalks.md, element by
element; the trace says, for each record, what happened to every element and
attribute. Decisions that the DC -> MODS crosswalk relies on for exact round
trips (identifiers, types, dates) live in shared modules.

Ingest runs this on every record, so the untraced path does no trace
bookkeeping (everything for the trace sits behind `if w.rec`), reads each
element's text once, compares tags with module constants, and works out the
language of the values of one top-level element only once.
"""
from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from crosswalks.identifiers import format_identifier
from crosswalks.mods_text import (M, XLINK_HREF, XML_LANG, declared_language, join_punct, name_string, part_string,
                                  text, title_string)
from crosswalks.registry import Crosswalk
from crosswalks.trace import Trace
from crosswalks.tracing import Recorder
from crosswalks.vocab import CREATOR_ROLE_CODES, CREATOR_ROLE_TERMS, DC_ELEMENTS, TYPE_OF_RESOURCE_TO_DCMI
from metadata.formats import DC_NS, OAI_DC_NS

DC = f"{{{DC_NS}}}"
_NSMAP = {"oai_dc": OAI_DC_NS, "dc": DC_NS}
_ROOT = f"{{{OAI_DC_NS}}}dc"
_DC_TAGS = tuple((name, DC + name) for name in DC_ELEMENTS)
_DATES = frozenset(M + n for n in ("dateIssued", "dateCreated", "dateCaptured", "dateValid", "dateModified",
                                   "copyrightDate", "dateOther", "displayDate"))
_HEADING = frozenset(M + n for n in ("topic", "geographic", "temporal", "genre", "occupation"))
_PLACE_AND_TIME = frozenset(M + n for n in ("geographic", "temporal", "geographicCode"))
_CARTOGRAPHIC = frozenset(M + n for n in ("coordinates", "scale", "projection"))
_DESCRIPTIVE = {M + "form": "format", M + "internetMediaType": "format", M + "extent": "format",
                M + "note": "description"}
_TITLE_INFO, _NAME, _ROLE, _ROLE_TERM = M + "titleInfo", M + "name", M + "role", M + "roleTerm"
_HIERARCHICAL_GEOGRAPHIC, _CARTOGRAPHICS = M + "hierarchicalGeographic", M + "cartographics"
_PUBLISHER, _EXTENT, _URL, _LANGUAGE_TERM = M + "publisher", M + "extent", M + "url", M + "languageTerm"
_IDENTIFIER, _LOCATION, _PART = M + "identifier", M + "location", M + "part"
_MODS, _MODS_COLLECTION = M + "mods", M + "modsCollection"


class _Walk:
    """What one conversion has found so far: DC values by element, and the recorder if tracing.

    Values marked first (the main title, the key date) go before the others of
    their element, so they are kept apart rather than sorted at the end.
    """

    __slots__ = ("rec", "top", "top_language", "values")

    def __init__(self, rec: Recorder | None) -> None:
        self.rec = rec
        self.top: etree._Element | None = None
        self.top_language: tuple[etree._Element, str, str | None] | None = None
        # DC element -> (the values marked first, the others), each value with its xml:lang
        self.values: dict[str, tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]]] = {}

    def enter(self, top: etree._Element) -> None:
        """Start on a child of the record; every value until the next call is built from inside `top`,
        so the language `top` declares is looked up once for all of them."""
        self.top = top
        self.top_language = declared_language(top)

    def emit(self, element: str, value: str, source: etree._Element, first: bool = False) -> None:
        """Add a DC value, with the xml:lang of `source` (the first part it was built from) or its nearest
        ancestor below the record that declares a language."""
        cur = source
        while cur is not self.top:
            found = declared_language(cur)
            if found is not None:
                break
            cur = cur.getparent()
        else:
            found = self.top_language
        lang = None
        if found is not None:
            node, attr, lang = found
            if lang and self.rec:
                self.rec.transformed(node, f"dc:{element}", f"language of the value, written as xml:lang=\"{lang}\"",
                                     attribute=attr)
                if attr == "lang" and "-" in lang:
                    self.rec.transformed(node, f"dc:{element}", f"script subtag of xml:lang=\"{lang}\"",
                                         attribute="script")
        entries = self.values.get(element)
        if entries is None:
            entries = self.values[element] = ([], [])
        entries[0 if first else 1].append((value, lang))

    def parts(self, nodes: list[etree._Element], element: str, value: str, how: str) -> None:
        """Trace the nodes a value was built from: mapped if one node gave it unchanged, else transformed."""
        if len(nodes) == 1 and text(nodes[0]) == value:
            self.rec.mapped(nodes[0], f"dc:{element}", value)
        else:
            for node in nodes:
                self.rec.transformed(node, f"dc:{element}", how, value)

    def build(self) -> etree._Element:
        """The oai_dc record: elements in the standard DC order, each value once, first values first."""
        root = etree.Element(_ROOT, nsmap=_NSMAP)
        sub_element = etree.SubElement
        for name, tag in _DC_TAGS:
            entries = self.values.get(name)
            if entries is None:
                continue
            leading, trailing = entries
            seen: set[str] = set()
            for value, lang in leading + trailing if leading else trailing:
                if value not in seen:
                    seen.add(value)
                    el = sub_element(root, tag)
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


def _role_terms(name: etree._Element) -> list[tuple[etree._Element, str]]:
    """Each roleTerm of the name that has a text, with that text."""
    terms = []
    for role in name:
        if role.tag == _ROLE:
            for term in role:
                if term.tag == _ROLE_TERM:
                    value = text(term)
                    if value:
                        terms.append((term, value))
    return terms


def _name(el: etree._Element, w: _Walk) -> None:
    value, used = name_string(el)
    if not value:
        return
    terms = _role_terms(el)
    element = _creator_or_contributor(terms)
    w.emit(element, value, used[0] if used else el)
    if w.rec:
        w.parts(used, element, value, "name parts joined: untyped parts, Family, Given, terms of address, dates")
        for term, role in terms:
            w.rec.transformed(term, f"dc:{element}", f"role \"{role}\" makes the name a dc:{element}; "
                              "the role itself is not carried", value)
            if term.get("type"):
                w.rec.transformed(term, f"dc:{element}", "says whether the role is a code or a term", value,
                                  attribute="type")
        for part in used:
            if part.get("type"):
                w.rec.transformed(part, f"dc:{element}", f"places the part in the name ({part.get('type')})",
                                  value, attribute="type")


def _creator_or_contributor(terms: list[tuple[etree._Element, str]]) -> str:
    """A name is a creator if it has no role or any role of primary responsibility."""
    for term, role in terms:
        if _is_creator(term, role):
            return "creator"
    return "contributor" if terms else "creator"


def _is_creator(term: etree._Element, role: str) -> bool:
    """Whether the roleTerm `term`, whose text is `role`, names a role of primary responsibility."""
    value = role.lower().rstrip(".,;: ")
    kind = term.get("type")
    if kind == "code":
        return value in CREATOR_ROLE_CODES
    if kind == "text":
        return value in CREATOR_ROLE_TERMS
    return value in CREATOR_ROLE_TERMS or value in CREATOR_ROLE_CODES


def _subject(el: etree._Element, w: _Walk) -> None:
    """One heading joined into a dc:subject (if any part is topical), then each place or time as dc:coverage.

    The children are read once; those that give coverage are kept until the
    heading is written, so the trace reports a place's subject part first.
    """
    heading: list[tuple[str, list[etree._Element]]] = []
    topical = False
    coverage: list[etree._Element] = []
    for child in el:
        tag = child.tag
        if tag in _COVERAGE:
            coverage.append(child)
        if tag in _HEADING:
            value, used = text(child), [child]
        elif tag == _TITLE_INFO:
            value, used = title_string(child)
        elif tag == _NAME:
            value, used = name_string(child)
        else:
            continue
        if value:
            heading.append((value, used))
            topical = topical or tag not in _PLACE_AND_TIME
    if topical:
        value = "--".join(v for v, _ in heading)
        w.emit("subject", value, heading[0][1][0] if heading[0][1] else el)
        if w.rec:
            w.parts([n for _, used in heading for n in used], "subject", value,
                    "subdivisions of one heading joined with \"--\"")
    for child in coverage:
        _COVERAGE[child.tag](child, w)


def _hierarchical_geographic(el: etree._Element, w: _Walk) -> None:
    used, names = [], []
    for child in el:
        name = text(child)
        if name:
            used.append(child)
            names.append(name)
    if used:
        value = "--".join(names)
        w.emit("coverage", value, used[0])
        if w.rec:
            w.parts(used, "coverage", value, "place hierarchy joined with \"--\", broadest first")


def _cartographics(el: etree._Element, w: _Walk) -> None:
    for child in el:
        if child.tag in _CARTOGRAPHIC:
            _leaf(child, "coverage", w)


# subject children that give dc:coverage
_COVERAGE: dict[str, Callable[[etree._Element, _Walk], None]] = {
    **{tag: lambda el, w: _leaf(el, "coverage", w) for tag in _PLACE_AND_TIME},
    _HIERARCHICAL_GEOGRAPHIC: _hierarchical_geographic,
    _CARTOGRAPHICS: _cartographics,
}


def _leaf(el: etree._Element, element: str, w: _Walk) -> None:
    """One MODS element whose text is one DC value, unchanged."""
    _carry(el, element, text(el), w)


def _carry(el: etree._Element, element: str, value: str, w: _Walk) -> None:
    """`value`, the text of `el`, as one DC value, unchanged (nothing if it is empty)."""
    if value:
        w.emit(element, value, el)
        if w.rec:
            w.rec.mapped(el, f"dc:{element}", value)


def _text_or_link(el: etree._Element, element: str, w: _Walk) -> None:
    """abstract, tableOfContents, note, accessCondition: the text, then the linked full statement if any."""
    href = el.get(XLINK_HREF, "").strip()
    own = text(el)
    if not href:
        _carry(el, element, own, w)
        return
    value = join_punct(own, ": ", href)
    w.emit(element, value, el)
    if w.rec:
        if own:
            w.rec.transformed(el, f"dc:{element}", "the text, followed by the link to the full statement", value)
        w.rec.transformed(el, f"dc:{element}", "the link to the full statement", value, attribute=XLINK_HREF)


def _origin_info(el: etree._Element, w: _Walk) -> None:
    entries: list[dict] = []
    open_starts: dict[str, dict] = {}
    for child in el:
        tag = child.tag
        if tag == _PUBLISHER:
            _leaf(child, "publisher", w)
        elif tag in _DATES:
            value = text(child)
            if not value:
                continue
            point = child.get("point")
            if point == "end" and tag in open_starts:
                entry = open_starts.pop(tag)
                entry["nodes"].append(child)
                entry["end"] = value
            else:
                entry = {"nodes": [child], "start": value, "end": None, "point": point}
                entries.append(entry)
                if point == "start":
                    open_starts[tag] = entry
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
        tag = child.tag
        element = _DESCRIPTIVE.get(tag)
        if element is None:
            continue
        value = text(child)
        unit = child.get("unit") if tag == _EXTENT else None
        if unit and value:
            value = f"{value} {unit}"
            w.emit(element, value, child)
            if w.rec:
                w.rec.transformed(child, "dc:format", "extent followed by its unit", value)
                w.rec.transformed(child, "dc:format", "extent followed by its unit", value, attribute="unit")
        else:
            _carry(child, element, value, w)


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
        if child.tag != _URL:
            continue
        if child.get("access") == "preview":
            if w.rec and text(child):
                w.rec.dropped(child, "a preview (thumbnail) link, not the resource itself")
            continue
        _leaf(child, "identifier", w)


def _related_pieces(el: etree._Element) -> list[tuple[str, list[etree._Element]]]:
    """The title, identifiers, links and part citation of a related item, in document order, each with
    the elements it was built from; empty ones left out."""
    pieces: list[tuple[str, list[etree._Element]]] = []
    for child in el:
        tag = child.tag
        if tag == _TITLE_INFO:
            pieces.append(title_string(child))
        elif tag == _IDENTIFIER and child.get("invalid") != "yes":
            value = text(child)
            if value:
                pieces.append((format_identifier(value, child.get("type")), [child]))
        elif tag == _LOCATION:
            for url in child:
                if url.tag == _URL and url.get("access") != "preview":
                    value = text(url)
                    if value:
                        pieces.append((value, [url]))
        elif tag == _PART:
            pieces.append(part_string(child))
    return [(v, used) for v, used in pieces if v]


def _related_item(el: etree._Element, w: _Walk) -> None:
    pieces = _related_pieces(el)
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
            if node.tag == _IDENTIFIER and node.get("type"):
                w.rec.transformed(node, f"dc:{element}", "the type is written into the value", value,
                                  attribute="type")
    if href:
        w.rec.transformed(el, f"dc:{element}", "link to the related item's record", value, attribute=XLINK_HREF)
    w.rec.transformed(el, f"dc:{element}", f"type \"{el.get('type')}\" makes it a dc:{element}" if el.get("type")
                      else "a related item of no stated type is a dc:relation", value,
                      attribute="type" if el.get("type") else None)


def _language(el: etree._Element, w: _Walk) -> None:
    terms: list[tuple[etree._Element, str]] = []
    codes: list[tuple[etree._Element, str]] = []
    for term in el:
        if term.tag == _LANGUAGE_TERM:
            value = text(term)
            if value:
                terms.append((term, value))
                if term.get("type") == "code":
                    codes.append((term, value))
    for term, value in codes or terms:
        _carry(term, "language", value, w)
    if w.rec and codes:
        for term, value in terms:
            if term.get("type") == "code":
                w.rec.transformed(term, "dc:language", "a code is preferred to a language name", value,
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
    if root.tag == _MODS_COLLECTION:
        records = [c for c in root if c.tag == _MODS]
        if len(records) != 1:
            raise ValueError(f"a modsCollection of {len(records)} records is not one record; convert each <mods>")
        record = records[0]
    rec = Recorder(trace) if trace.enabled else None
    walk = _Walk(rec)
    for child in record:
        handler = _HANDLERS.get(child.tag)
        if handler is not None:
            walk.enter(child)
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
    version="2",  # 2: a period ending initials keeps the comma before dates
    convert=mods_to_dc,
    description="MODS 3.x to simple Dublin Core after the LoC MODS to Dublin Core mapping (version 3); "
                "decisions in docs/crosswalks.md",
)
