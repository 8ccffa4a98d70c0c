"""Turning structured MODS (titles, names, part citations) into the single strings DC holds.

Each function returns the string and the elements it was built from, so the
crosswalk can say in its trace exactly which parts of the record a DC value
came from. Punctuation follows cataloguing habit (ISBD-like "Title : subtitle.
Part"), without doubling the marks that MARC-derived MODS already carries.

These run for every record ingested, so tag names are module constants
(building "{ns}name" strings in a loop costs more than the comparison) and
each child's text is read once.
"""
from __future__ import annotations

from lxml import etree

from crosswalks.languages import bcp47
from metadata.formats import MODS_NS, XLINK_NS

M = f"{{{MODS_NS}}}"
XLINK_HREF = f"{{{XLINK_NS}}}href"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_CLOSING = (".", ":", ";", ",", "=", "/", "?", "!")

_NON_SORT = M + "nonSort"
# titleInfo child -> its bucket in title_string: 0 nonSort, 1 title, 2 subTitle, 3 partNumber and partName
_TITLE_BUCKETS = {_NON_SORT: 0, M + "title": 1, M + "subTitle": 2, M + "partNumber": 3, M + "partName": 3}
_NAME_PART = M + "namePart"
_DISPLAY_FORM = M + "displayForm"
_NAME_BUCKETS = ("family", "given", "termsOfAddress", "date")
_DETAIL, _EXTENT = M + "detail", M + "extent"
_NUMBER, _CAPTION, _TITLE = M + "number", M + "caption", M + "title"
_START, _END, _TOTAL, _LIST = M + "start", M + "end", M + "total", M + "list"
_PART_TEXT = frozenset((M + "date", M + "text"))


def text(el: etree._Element) -> str:
    """Stripped text content; most MODS leaves are plain text, accessCondition may hold markup."""
    if len(el) == 0:
        return (el.text or "").strip()
    return "".join(el.itertext()).strip()


def join_punct(left: str, sep: str, right: str) -> str:
    """`left + sep + right`, unless `left` already ends with punctuation, when a space will do."""
    if not left:
        return right
    if not right:
        return left
    # A period that closes an initial or abbreviation still takes a comma ("Stalin, I. V.,
    # 1878-1953", as AACR2/RDA headings write it); any other doubled mark collapses.
    if left.endswith(_CLOSING) and sep.strip() and not (left.endswith(".") and sep == ", "):
        return f"{left} {right}"
    return left + sep + right


def _join_all(values: list[str], sep: str) -> str:
    """The (non-empty) `values` joined pairwise by join_punct."""
    joined = values[0]
    for i in range(1, len(values)):
        joined = join_punct(joined, sep, values[i])
    return joined


def title_string(title_info: etree._Element) -> tuple[str, list[etree._Element]]:
    """nonSort + title + " : " subTitle + ". " partNumber + ", " partName, as the LoC mapping asks."""
    buckets: tuple[list[str], ...] = ([], [], [], [])
    used = []
    for child in title_info:
        tag = child.tag
        bucket = _TITLE_BUCKETS.get(tag)
        if bucket is None:
            continue
        value = (child.text or "") if tag == _NON_SORT else text(child)
        if value.strip():
            buckets[bucket].append(value)
            used.append(child)
    non_sort, titles, subtitles, parts = buckets
    value = " ".join(titles)
    if non_sort:
        lead = "".join(non_sort).strip()
        if lead:
            value = lead + ("" if lead.endswith(("'", "’", "-")) else " ") + value if value else lead
    for subtitle in subtitles:
        value = join_punct(value, " : ", subtitle)
    for i, part in enumerate(parts):
        value = join_punct(value, ". " if i == 0 else ", ", part)
    return value.strip(), used


def name_string(name: etree._Element) -> tuple[str, list[etree._Element]]:
    """One DC name: the untyped parts, then "Family, Given", then terms of address and dates.

    Corporate and conference names join their untyped parts (a hierarchy such as
    "United States. Congress") with ". ", personal names with ", ". A name
    with no namePart text is given by its first displayForm that has one.
    """
    parts: dict[str | None, list[str]] = {}
    used = []
    for child in name:
        if child.tag == _NAME_PART:
            value = text(child)
            if value:
                kind = child.get("type")
                parts.setdefault(kind if kind in _NAME_BUCKETS else None, []).append(value)
                used.append(child)
    if not parts:
        for child in name:
            if child.tag == _DISPLAY_FORM:
                display = text(child)
                if display:
                    return display, [child]
        return "", used
    segments = []
    untyped = parts.pop(None, None)
    if untyped:
        sep = ". " if len(untyped) > 1 and name.get("type") in ("corporate", "conference") else ", "
        segments.append(_join_all(untyped, sep))
    if parts:
        family, given = " ".join(parts.get("family", ())), " ".join(parts.get("given", ()))
        if family or given:
            segments.append(f"{family}, {given}" if family and given else family or given)
        segments += parts.get("termsOfAddress", []) + parts.get("date", [])
    return _join_all(segments, ", "), used


def _texts(el: etree._Element) -> tuple[dict[str, str], list[etree._Element]]:
    """The non-empty texts of the children of `el` by tag (the last one wins), and those children."""
    by_tag, used = {}, []
    for child in el:
        value = text(child)
        if value:
            by_tag[child.tag] = value
            used.append(child)
    return by_tag, used


def part_string(part: etree._Element) -> tuple[str, list[etree._Element]]:
    """A citation of where an item sits in its host: "vol. 3, no. 2, pages 12-20, 1998"."""
    pieces, used = [], []
    for child in part:
        tag = child.tag
        if tag == _DETAIL:
            sub, nodes = _texts(child)
            number = sub.get(_NUMBER, "")
            label = sub.get(_CAPTION) or child.get("type") or ""
            piece = " ".join(p for p in (label if number else "", number, sub.get(_TITLE, "")) if p)
            if piece:
                pieces.append(piece)
                used.extend(nodes)
        elif tag == _EXTENT:
            sub, nodes = _texts(child)
            span = "-".join(p for p in (sub.get(_START), sub.get(_END)) if p) \
                or sub.get(_TOTAL, "") or sub.get(_LIST, "")
            if span:
                pieces.append(f"{child.get('unit')} {span}" if child.get("unit") else span)
                used.extend(nodes)
        elif tag in _PART_TEXT:
            value = text(child)
            if value:
                pieces.append(value)
                used.append(child)
    return ", ".join(pieces), used


def declared_language(el: etree._Element) -> tuple[etree._Element, str, str | None] | None:
    """(el, the attribute, the xml:lang it gives) if `el` itself declares a language, else None.

    xml:lang wins over MODS @lang; a @lang that is not an ISO 639-2 code still
    counts as the declaration (its xml:lang is None), so no ancestor is asked.
    """
    names = el.keys()   # one call, cheaper than asking for two absent attributes
    if not names:
        return None
    if XML_LANG in names:
        lang = el.get(XML_LANG)
        if lang:
            return el, XML_LANG, lang
    if "lang" in names:
        code = el.get("lang")
        if code:
            return el, "lang", bcp47(code, el.get("script"))
    return None
