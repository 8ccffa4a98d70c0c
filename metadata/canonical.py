"""A stable serialization of records: the same metadata always gives the same bytes.

Stored disseminations are compared byte for byte to decide whether a record
changed (and so whether its datestamp moves), so the serialization must not
depend on how the source happened to spell prefixes, order attributes or indent.
"""
from __future__ import annotations

from lxml import etree

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XLINK = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"


def _namespaces_used(root: etree._Element) -> set[str]:
    found: set[str] = set()
    for el in root.iter(etree.Element):
        ns = etree.QName(el).namespace
        if ns:
            found.add(ns)
        for name in el.attrib:
            ans = etree.QName(name).namespace
            if ans and ans != XML_NS:
                found.add(ans)
    return found


def _copy(src: etree._Element, parent: etree._Element | None, nsmap: dict) -> etree._Element:
    attrs = sorted(src.attrib.items(), key=lambda kv: _attr_key(kv[0]))
    el = (etree.Element(src.tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, src.tag))
    for name, value in attrs:
        el.set(name, value)
    if src.text and src.text.strip():
        el.text = src.text
    for child in src:
        if isinstance(child.tag, str):
            copied = _copy(child, el, nsmap)
            if child.tail and child.tail.strip():
                copied.tail = child.tail
        elif child.tail and child.tail.strip():  # text after a dropped comment or PI
            _append_text(el, child.tail)
    return el


def _append_text(el: etree._Element, text: str) -> None:
    if len(el):
        el[-1].tail = (el[-1].tail or "") + text
    else:
        el.text = (el.text or "") + text


def _attr_key(name: str) -> tuple[str, str]:
    q = etree.QName(name)
    return (q.namespace or "", q.localname)


def canonicalize(root: etree._Element, namespace: str, prefix_map: dict[str | None, str],
                 schema_location: str) -> etree._Element:
    """A fresh copy of `root` with canonical prefixes, sorted attributes, no comments,
    whitespace-only text removed and xsi:schemaLocation naming the official schema."""
    nsmap: dict[str | None, str] = dict(prefix_map)
    known = set(nsmap.values())
    extra = sorted(_namespaces_used(root) - known - {XSI})
    for i, ns in enumerate(extra):
        nsmap[f"ns{i}"] = ns
    nsmap.setdefault("xsi", XSI)
    out = _copy(root, None, nsmap)
    out.set(f"{{{XSI}}}schemaLocation", f"{namespace} {schema_location}")
    attrs = sorted(out.attrib.items(), key=lambda kv: _attr_key(kv[0]))
    out.attrib.clear()
    for name, value in attrs:
        out.set(name, value)
    etree.indent(out, space="  ")
    return out


def to_bytes(root: etree._Element) -> bytes:
    """UTF-8 bytes without an XML declaration, ready to embed in a response."""
    return etree.tostring(root, encoding="utf-8")
