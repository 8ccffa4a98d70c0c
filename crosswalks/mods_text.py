"""Turning structured MODS (titles, names, part citations) into the single strings DC holds.

Each function returns the string and the elements it was built from, so the
crosswalk can say in its trace exactly which parts of the record a DC value
came from. Punctuation follows cataloguing habit (ISBD-like "Title : subtitle.
Part"), without doubling the marks that MARC-derived MODS already carries.
"""
from __future__ import annotations

from functools import reduce

from lxml import etree

from metadata.formats import MODS_NS, XLINK_NS

M = f"{{{MODS_NS}}}"
XLINK_HREF = f"{{{XLINK_NS}}}href"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_CLOSING = (".", ":", ";", ",", "=", "/", "?", "!")


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
    if left.endswith(_CLOSING) and sep.strip():
        return f"{left} {right}"
    return left + sep + right


def title_string(title_info: etree._Element) -> tuple[str, list[etree._Element]]:
    """nonSort + title + " : " subTitle + ". " partNumber + ", " partName, as the LoC mapping asks."""
    non_sort, titles, subtitles, parts, used = [], [], [], [], []
    buckets = {M + "nonSort": non_sort, M + "title": titles, M + "subTitle": subtitles,
               M + "partNumber": parts, M + "partName": parts}
    for child in title_info:
        bucket = buckets.get(child.tag)
        if bucket is None:
            continue
        value = (child.text or "") if child.tag == M + "nonSort" else text(child)
        if value.strip():
            bucket.append(value)
            used.append(child)
    core = " ".join(titles)
    lead = "".join(non_sort).strip()
    if lead:
        core = lead + ("" if lead.endswith(("'", "’", "-")) else " ") + core if core else lead
    value = reduce(lambda a, b: join_punct(a, " : ", b), subtitles, core)
    for i, part in enumerate(parts):
        value = join_punct(value, ". " if i == 0 else ", ", part)
    return value.strip(), used


_NAME_BUCKETS = ("family", "given", "termsOfAddress", "date")


def name_string(name: etree._Element) -> tuple[str, list[etree._Element]]:
    """One DC name: the untyped parts, then "Family, Given", then terms of address and dates.

    Corporate and conference names join their untyped parts (a hierarchy such as
    "United States. Congress") with ". ", personal names with ", ".
    """
    parts: dict[str | None, list[str]] = {}
    used = []
    for child in name:
        if child.tag == M + "namePart":
            value = text(child)
            if value:
                kind = child.get("type")
                parts.setdefault(kind if kind in _NAME_BUCKETS else None, []).append(value)
                used.append(child)
    sep = ". " if name.get("type") in ("corporate", "conference") else ", "
    segments = []
    if None in parts:
        segments.append(reduce(lambda a, b: join_punct(a, sep, b), parts[None]))
    family, given = " ".join(parts.get("family", ())), " ".join(parts.get("given", ()))
    if family or given:
        segments.append(f"{family}, {given}" if family and given else family or given)
    segments += parts.get("termsOfAddress", []) + parts.get("date", [])
    value = reduce(lambda a, b: join_punct(a, ", ", b), segments, "")
    if not value:
        for child in name:
            if child.tag == M + "displayForm" and text(child):
                return text(child), [child]
    return value, used


def part_string(part: etree._Element) -> tuple[str, list[etree._Element]]:
    """A citation of where an item sits in its host: "vol. 3, no. 2, pages 12-20, 1998"."""
    pieces, used = [], []
    for child in part:
        if child.tag == M + "detail":
            sub = {c.tag: text(c) for c in child if text(c)}
            number = sub.get(M + "number", "")
            label = sub.get(M + "caption") or child.get("type") or ""
            piece = " ".join(p for p in (label if number else "", number, sub.get(M + "title", "")) if p)
            if piece:
                pieces.append(piece)
                used.extend(c for c in child if text(c))
        elif child.tag == M + "extent":
            sub = {c.tag: text(c) for c in child if text(c)}
            span = "-".join(p for p in (sub.get(M + "start"), sub.get(M + "end")) if p) \
                or sub.get(M + "total", "") or sub.get(M + "list", "")
            if span:
                pieces.append(f"{child.get('unit')} {span}" if child.get("unit") else span)
                used.extend(c for c in child if text(c))
        elif child.tag in (M + "date", M + "text") and text(child):
            pieces.append(text(child))
            used.append(child)
    return ", ".join(pieces), used


def language_of(el: etree._Element, stop: etree._Element) -> tuple[etree._Element, str] | None:
    """The nearest element from `el` up to (not including) `stop` that declares a language, and the attribute."""
    cur: etree._Element | None = el
    while cur is not None and cur is not stop:
        if cur.get(XML_LANG):
            return cur, XML_LANG
        if cur.get("lang"):
            return cur, "lang"
        cur = cur.getparent()
    return None
