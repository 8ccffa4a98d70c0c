"""What a record page shows, read from the record's MODS dissemination.

Every record has one (MODS-native records keep theirs, Dublin Core records get
theirs from the DC->MODS crosswalk), so one reader serves both. The result is a
plain view model of strings; templates escape every value, so nothing here
needs to care about markup. The same model feeds the search index.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from crosswalks.mods_text import name_string, text, title_string
from metadata.formats import MODS_NS, XLINK_NS
from metadata.safe_xml import parse_xml

M = f"{{{MODS_NS}}}"
XLINK_HREF = f"{{{XLINK_NS}}}href"
_YEAR = re.compile(r"^\s*(-?\d{4})")

LANGUAGES = {
    "eng": "English", "rus": "Russian", "chi": "Chinese", "zho": "Chinese", "kor": "Korean", "ger": "German",
    "deu": "German", "fre": "French", "fra": "French", "spa": "Spanish", "vie": "Vietnamese", "bul": "Bulgarian",
    "pol": "Polish", "hun": "Hungarian", "cze": "Czech", "ces": "Czech", "ita": "Italian", "jpn": "Japanese",
    "por": "Portuguese", "rum": "Romanian", "ron": "Romanian", "alb": "Albanian", "sqi": "Albanian",
    "ara": "Arabic", "per": "Persian", "fas": "Persian", "heb": "Hebrew", "mon": "Mongolian", "srp": "Serbian",
    "hrv": "Croatian", "slo": "Slovak", "slk": "Slovak", "ukr": "Ukrainian", "dut": "Dutch", "nld": "Dutch",
    "swe": "Swedish", "fin": "Finnish", "dan": "Danish", "nor": "Norwegian", "gre": "Greek", "ell": "Greek",
    "tur": "Turkish", "hin": "Hindi", "lat": "Latin", "en": "English", "ru": "Russian", "zh": "Chinese",
    "de": "German", "fr": "French", "es": "Spanish",
}
_DATE_LABELS = {"dateCreated": "Created", "dateIssued": "Issued", "dateCaptured": "Captured",
                "dateValid": "Valid", "dateModified": "Modified", "copyrightDate": "Copyright",
                "dateOther": "Date"}
_DATE_TAGS = {M + local: local for local in _DATE_LABELS}
_NAME, _ORIGIN, _ABSTRACT, _NOTE, _SUBJECT, _PUBLISHER, _PLACE = (
    M + n for n in ("name", "originInfo", "abstract", "note", "subject", "publisher", "place"))
_SUBJECT_PARTS = {M + local: local for local in ("topic", "geographic", "temporal", "genre", "occupation", "name",
                                                  "titleInfo", "hierarchicalGeographic", "cartographics",
                                                  "geographicCode")}


@dataclass(frozen=True)
class Name:
    name: str
    roles: tuple[str, ...] = ()
    kind: str = ""          # personal, corporate, family, conference


@dataclass(frozen=True)
class Link:
    url: str
    label: str


@dataclass
class RecordView:
    title: str = ""
    alternative_titles: list[str] = field(default_factory=list)
    dates: list[tuple[str, str]] = field(default_factory=list)      # (label, value)
    date: str = ""                                                  # the key date, for lists
    year: int | None = None
    places: list[str] = field(default_factory=list)
    publishers: list[str] = field(default_factory=list)
    abstracts: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)      # (type, text)
    names: list[Name] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    resource_types: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    physical: list[tuple[str, str]] = field(default_factory=list)   # (label, value)
    sources: list[str] = field(default_factory=list)                # archival citations
    archives: list[str] = field(default_factory=list)               # holding institutions
    rights: list[str] = field(default_factory=list)
    identifiers: list[tuple[str, str]] = field(default_factory=list)  # (type, value)
    links: list[Link] = field(default_factory=list)
    related: list[tuple[str, str]] = field(default_factory=list)    # (relation, title)
    record_source: str = ""
    record_created: str = ""

    @property
    def type_label(self) -> str:
        return ", ".join(self.genres or self.resource_types)

    @property
    def description(self) -> str:
        return "\n\n".join(self.abstracts)


def _children(el: etree._Element, local: str) -> list[etree._Element]:
    return el.findall(M + local)


def _add(values: list, value) -> None:
    if value and value not in values:
        values.append(value)


def _language(el: etree._Element) -> str:
    terms = _children(el, "languageTerm")
    for t in terms:
        if t.get("type") == "text" and text(t):
            return text(t)
    for t in terms:
        code = text(t)
        if code:
            return LANGUAGES.get(code, code)
    return ""


def _roles(name: etree._Element) -> tuple[str, ...]:
    out: list[str] = []
    for role in _children(name, "role"):
        terms = _children(role, "roleTerm")
        chosen = next((text(t) for t in terms if t.get("type") == "text" and text(t)), "")
        chosen = chosen or next((text(t) for t in terms if text(t)), "")
        _add(out, chosen)
    return tuple(out)


def _name_value(el: etree._Element) -> str:
    """A name as shown: its first displayForm with text, else built from its parts."""
    return next((text(d) for d in _children(el, "displayForm") if text(d)), "") or name_string(el)[0]


def _name(el: etree._Element) -> Name | None:
    value = _name_value(el)
    return Name(value, _roles(el), el.get("type") or "") if value else None


def _subject(el: etree._Element) -> str:
    parts: list[str] = []
    for child in el:
        local = _SUBJECT_PARTS.get(child.tag)
        if local is None:
            continue
        if local == "name":
            value = _name_value(child)
        elif local == "titleInfo":
            value = title_string(child)[0]
        elif local == "hierarchicalGeographic":
            value = " -- ".join(text(c) for c in child if isinstance(c.tag, str) and text(c))
        else:
            value = text(child)
        if value:
            parts.append(value)
    return " -- ".join(parts)


def _date_value(els: list[etree._Element]) -> str:
    start = next((text(e) for e in els if e.get("point") == "start" and text(e)), "")
    end = next((text(e) for e in els if e.get("point") == "end" and text(e)), "")
    if start or end:
        return f"{start}–{end}" if start and end else start or end
    value = next((text(e) for e in els if text(e)), "")
    if value and any(e.get("qualifier") in ("approximate", "inferred", "questionable") for e in els):
        value += " (" + next(e.get("qualifier") for e in els if e.get("qualifier")) + ")"
    return value


def _dates(origin: etree._Element) -> tuple[list[tuple[str, str]], list[str]]:
    """An originInfo's dates, labelled, in the order their kinds first appear; and its key dates."""
    groups: dict[str, list[etree._Element]] = {}
    key: list[str] = []
    for child in origin:
        local = _DATE_TAGS.get(child.tag)
        if local is None:
            continue
        groups.setdefault(local, []).append(child)
        if child.get("keyDate") == "yes" and text(child):
            key.append(text(child))
    return [(_DATE_LABELS[local], value) for local, els in groups.items() if (value := _date_value(els))], key


def _origin(view: RecordView, origin: etree._Element, key: list[str]) -> None:
    dates, keys = _dates(origin)
    view.dates += dates
    key += keys
    for child in origin:
        if child.tag == _PUBLISHER:
            _add(view.publishers, text(child))
        elif child.tag == _PLACE:
            for term in _children(child, "placeTerm"):
                if term.get("type") != "code":
                    _add(view.places, text(term))


def _location(view: RecordView, loc: etree._Element) -> None:
    for url in _children(loc, "url"):
        href = text(url)
        if href.startswith(("http://", "https://")):
            view.links.append(Link(href, url.get("displayLabel") or url.get("note") or href))
    places = [text(p) for p in _children(loc, "physicalLocation") if text(p)]
    for place in places:
        _add(view.archives, place)
    shelves = [text(s) for s in _children(loc, "shelfLocator") if text(s)]
    for h in _children(loc, "holdingSimple"):
        for c in h.iter(M + "shelfLocator"):
            if text(c):
                shelves.append(text(c))
    if places or shelves:
        _add(view.sources, ", ".join(places + shelves))


def record_view(mods_xml: bytes) -> RecordView:
    """The view model of one MODS record (bytes as stored: canonical, no declaration)."""
    root = parse_xml(mods_xml, "record").getroot()
    return view_of(root)


def _titles(root: etree._Element) -> tuple[str, list[str]]:
    """The title (the first untyped one, else the first of any type) and the others."""
    title, others = "", []
    for ti in _children(root, "titleInfo"):
        value = title_string(ti)[0]
        if not value:
            continue
        if not title and ti.get("type") is None:
            title = value
        else:
            _add(others, value)
    if not title and others:
        title = others.pop(0)
    return title, others


def _year(date: str) -> int | None:
    match = _YEAR.match(date)
    return int(match.group(1)) if match else None


def view_of(root: etree._Element) -> RecordView:
    """The view of a MODS root."""
    view = RecordView()
    key_dates: list[str] = []
    view.title, view.alternative_titles = _titles(root)
    for el in root:
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        if local == "name":
            n = _name(el)
            if n:
                view.names.append(n)
        elif local == "typeOfResource":
            _add(view.resource_types, text(el))
        elif local == "genre":
            _add(view.genres, text(el))
        elif local == "originInfo":
            _origin(view, el, key_dates)
        elif local == "language":
            _add(view.languages, _language(el))
        elif local == "physicalDescription":
            for c in el:
                if isinstance(c.tag, str) and text(c):
                    label = {"form": "Form", "extent": "Extent", "digitalOrigin": "Digital origin",
                             "internetMediaType": "Media type", "note": "Note",
                             "reformattingQuality": "Reformatting"}.get(etree.QName(c).localname, "Physical")
                    view.physical.append((label, text(c)))
        elif local == "abstract":
            _add(view.abstracts, text(el))
        elif local == "note":
            kind = el.get("type") or ""
            if kind == "source":
                _add(view.sources, text(el))
            elif text(el):
                view.notes.append((kind or "general", text(el)))
        elif local == "subject":
            _add(view.subjects, _subject(el))
        elif local == "relatedItem":
            kind = el.get("type") or "related"
            title = next((title_string(t)[0] for t in _children(el, "titleInfo") if title_string(t)[0]), "")
            if title:
                view.related.append((kind, title))
            if kind == "original":
                for loc in _children(el, "location"):
                    _location(view, loc)
        elif local == "identifier":
            kind = el.get("type") or "identifier"
            value = text(el)
            if value:
                view.identifiers.append((kind, value))
                if kind in ("uri", "url") and value.startswith(("http://", "https://")):
                    view.links.append(Link(value, value))
                elif kind == "doi":
                    view.links.append(Link("https://doi.org/" + value.removeprefix("doi:"), value))
                elif kind in ("hdl", "handle"):
                    view.links.append(Link("https://hdl.handle.net/" + value.removeprefix("hdl:"), value))
        elif local == "location":
            _location(view, el)
        elif local == "accessCondition":
            _add(view.rights, text(el) or el.get(XLINK_HREF) or "")
        elif local == "recordInfo":
            view.record_source = next((text(c) for c in _children(el, "recordContentSource") if text(c)), "")
            view.record_created = next((text(c) for c in _children(el, "recordCreationDate") if text(c)), "")
    view.date = key_dates[0] if key_dates else (view.dates[0][1] if view.dates else "")
    view.year = _year(view.date)
    return view


@dataclass(frozen=True)
class SearchFields:
    title: str
    names: list[str]
    subjects: list[str]
    description: list[str]   # abstracts, then notes other than source citations
    year: int | None


def search_fields(root: etree._Element) -> SearchFields:
    """What the search index keeps of a record, by the rules `view_of` reads it with, without
    the rest of the view: ingest makes one per record, and this is a fifth of its staging."""
    title, _ = _titles(root)
    names: list[str] = []
    subjects: list[str] = []
    abstracts: list[str] = []
    notes: list[str] = []
    key_date, first_date = "", ""
    for el in root:
        tag = el.tag
        if tag == _NAME:
            value = _name_value(el)
            if value:
                names.append(value)
        elif tag == _SUBJECT:
            _add(subjects, _subject(el))
        elif tag == _ABSTRACT:
            _add(abstracts, text(el))
        elif tag == _NOTE:
            if el.get("type") != "source" and text(el):
                notes.append(text(el))
        elif tag == _ORIGIN and not key_date:
            dates, keys = _dates(el)
            key_date = keys[0] if keys else ""
            first_date = first_date or (dates[0][1] if dates else "")
    return SearchFields(title, names, subjects, abstracts + notes, _year(key_date or first_date))
