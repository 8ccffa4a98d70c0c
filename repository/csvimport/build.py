"""One spreadsheet row -> one record tree (MODS, or oai_dc when the sheet has only DC columns).

Pure functions: no I/O, no store. Every element written for a MODS-path column is
remembered with that column, so a schema error can be reported against the
column the librarian typed the value in.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from crosswalks.dates import is_w3cdtf, w3cdtf_interval
from crosswalks.dc_to_mods import dc_to_mods
from crosswalks.languages import language_term
from crosswalks.trace import NullTrace
from crosswalks.vocab import DC_ELEMENTS
from metadata.formats import DC_NS, MODS, MODS_NS, OAI_DC, OAI_DC_NS, MetadataFormat, readable_path
from metadata.schemas import load_schema
from repository.csvimport.columns import (CONTAINER_MODE, DATE_ELEMENTS, MODS_PATHS, ROLE, TOP_ORDER,
                                          TYPES_OF_RESOURCE, Column, Step, role_terms)

M = f"{{{MODS_NS}}}"
D = f"{{{DC_NS}}}"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")
_LOCATION_ORDER = {name: i for i, name in enumerate(("physicalLocation", "shelfLocator", "url"))}
_NS_IN_MESSAGE = re.compile(r"\{(?:https?|urn):[^}]*\}")

Cells = list[tuple[Column, list[str]]]  # the row's values, column by column, in header order


@dataclass
class Built:
    fmt: MetadataFormat
    root: etree._Element
    origins: dict[etree._Element, Column] = field(default_factory=dict)


@dataclass(frozen=True)
class CellProblem:
    column: Column | None   # None: the record as a whole
    message: str
    path: str | None = None  # the element of the built record, when no column can be named


class RowInvalid(Exception):
    def __init__(self, problems: list[CellProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


def record_format(columns: list[Column]) -> MetadataFormat:
    """oai_dc when every descriptive column is a DC element, else MODS."""
    return MODS if any(c.kind == "mods" for c in columns) else OAI_DC


def build_record(fmt: MetadataFormat, record_id: str, cells: Cells) -> Built:
    """The record for one row; RowInvalid lists every value that cannot be written."""
    if fmt is OAI_DC:
        return Built(OAI_DC, build_dc(record_id, cells, with_id=True))
    return build_mods(record_id, cells)


def build_dc(record_id: str | None, cells: Cells, with_id: bool) -> etree._Element:
    """oai_dc in the standard element order; the id first among dc:identifier (the ingest reads it there)."""
    root = etree.Element(OAI_DC_NS.join("{}") + "dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS})
    for element in DC_ELEMENTS:
        values = [v for c, vs in cells if c.dc == element for v in vs]
        if element == "identifier" and with_id and record_id:
            values = [record_id, *(v for v in values if v != record_id)]
        for value in values:
            etree.SubElement(root, D + element).text = value
    return root


def _attrs(step: Step) -> dict[str, str]:
    return {k: v for k, v in step.predicates if k != ROLE}


def _role(name: etree._Element, role: str) -> None:
    term, code = role_terms(role)
    el = etree.SubElement(name, M + "role")
    if code:
        etree.SubElement(el, M + "roleTerm", type="text", authority="marcrelator").text = term
        etree.SubElement(el, M + "roleTerm", type="code", authority="marcrelator").text = code
    else:
        etree.SubElement(el, M + "roleTerm", type="text").text = term


class _Mods:
    def __init__(self) -> None:
        self.top: list[etree._Element] = []
        self.origins: dict[etree._Element, Column] = {}
        self.problems: list[CellProblem] = []
        self.key_date = False

    def new_top(self, step: Step, column: Column) -> etree._Element:
        el = etree.Element(M + step.name, _attrs(step))
        self.top.append(el)
        self.origins[el] = column
        return el

    def fill(self, parent: etree._Element, steps: tuple[Step, ...], value: str, column: Column) -> None:
        """Write `value` under `parent` along `steps` (the path below the top element)."""
        if not steps:  # a top-level leaf: abstract, note, genre, typeOfResource, identifier, …
            self.leaf(parent, value, column)
            return
        cur = parent
        for step in steps[:-1]:
            cur = etree.SubElement(cur, M + step.name, _attrs(step))
            self.origins[cur] = column
        leaf = steps[-1]
        name = leaf.name
        if name in DATE_ELEMENTS:
            self.date(cur, name, value, column)
            return
        el = etree.SubElement(cur, M + name, _attrs(leaf))
        self.origins[el] = column
        self.leaf(el, value, column)
        if name == "namePart" and cur.tag == M + "name":
            role = column.top.get(ROLE) if column.top.name == "name" else None
            if role:
                _role(cur, role)

    def leaf(self, el: etree._Element, value: str, column: Column) -> None:
        local = etree.QName(el).localname
        if local == "typeOfResource":
            match = next((t for t in TYPES_OF_RESOURCE if t.lower() == value.lower()), None)
            if match is None:
                self.problems.append(CellProblem(column, f"{value!r} is not a MODS typeOfResource; use one of "
                                                 f"{'; '.join(TYPES_OF_RESOURCE)} (other terms go in `genre`)"))
                return
            value = match
        elif local == "languageTerm":
            kind, authority = language_term(value)
            el.set("type", kind)
            if authority:
                el.set("authority", authority)
        elif local == "url" and not _URI.fullmatch(value):
            self.problems.append(CellProblem(column, f"{value!r} is not a URL (it needs a scheme such as "
                                             "https:// and no spaces)"))
            return
        el.text = value

    def date(self, parent: etree._Element, name: str, value: str, column: Column) -> None:
        key = {} if self.key_date else {"keyDate": "yes"}
        self.key_date = True
        interval = w3cdtf_interval(value)
        if interval:
            parts = [(interval[0], {"encoding": "w3cdtf", "point": "start", **key}),
                     (interval[1], {"encoding": "w3cdtf", "point": "end"})]
        else:
            parts = [(value, {**({"encoding": "w3cdtf"} if is_w3cdtf(value) else {}), **key})]
        for text, attrs in parts:
            el = etree.SubElement(parent, M + name, attrs)
            el.text = text
            self.origins[el] = column


def _groups(cells: Cells) -> Iterator[tuple[str, Step, list[tuple[Column, list[str]]]]]:
    """MODS columns grouped by their top-level element (name and predicates), in header order."""
    groups: dict[tuple, list[tuple[Column, list[str]]]] = {}
    tops: dict[tuple, Step] = {}
    for column, values in cells:
        if column.kind != "mods" or not values:
            continue
        top = column.top
        key = (top.name, tuple(sorted((k, v) for k, v in top.predicates if k != ROLE)))
        if CONTAINER_MODE.get(top.name) != "one":
            key += (top.get(ROLE), )
        groups.setdefault(key, []).append((column, values))
        tops.setdefault(key, top)
    for key, members in groups.items():
        yield CONTAINER_MODE.get(key[0], "each"), tops[key], members


def build_mods(record_id: str, cells: Cells) -> Built:
    b = _Mods()
    dc_cells = [(c, vs) for c, vs in cells if c.kind == "dc" and vs]
    from_dc: list[etree._Element] = []
    if dc_cells:  # DC columns go through the DC -> MODS crosswalk, so they mean what docs/crosswalks.md says
        converted = dc_to_mods(build_dc(None, dc_cells, with_id=False), NullTrace())
        from_dc = [el for el in converted if etree.QName(el).localname != "recordInfo"]
        b.key_date = any(el.get("keyDate") for top in from_dc for el in top.iter())
    for mode, top, members in _groups(cells):
        if mode == "one":
            el = b.new_top(top, members[0][0])
            for column, values in members:
                for value in values:
                    b.fill(el, column.steps[1:], value, column)
        elif mode == "aligned":
            for i in range(max(len(vs) for _, vs in members)):
                el = b.new_top(top, members[0][0])
                for column, values in members:
                    if i < len(values):
                        b.fill(el, column.steps[1:], values[i], column)
        else:
            for column, values in members:
                for value in values:
                    b.fill(b.new_top(top, column), column.steps[1:], value, column)
    if b.problems:
        raise RowInvalid(b.problems)
    elements = _merge(from_dc, b.top)
    record_info = etree.Element(M + "recordInfo")
    etree.SubElement(record_info, M + "recordIdentifier").text = record_id
    elements.append(record_info)
    root = etree.Element(M + "mods", nsmap={"mods": MODS_NS}, version="3.8")
    rank = {name: i for i, name in enumerate(TOP_ORDER)}
    for el in sorted(elements, key=lambda e: rank.get(etree.QName(e).localname, len(rank))):
        if el.tag == M + "location":
            el[:] = sorted(el, key=lambda c: _LOCATION_ORDER.get(etree.QName(c).localname, 99))
        if len(el) or (el.text or "").strip():  # a value the leaf refused leaves nothing to write
            root.append(el)
    return Built(MODS, root, b.origins)


def _merge(from_dc: list[etree._Element], own: list[etree._Element]) -> list[etree._Element]:
    """The crosswalk's elements then the sheet's, with one originInfo and one physicalDescription."""
    out = list(from_dc)
    for el in own:
        if CONTAINER_MODE.get(etree.QName(el).localname) == "one" and not el.attrib:
            twin = next((o for o in out if o.tag == el.tag and not o.attrib), None)
            if twin is not None:
                twin.extend(list(el))
                continue
        out.append(el)
    return out


def validate(built: Built) -> list[CellProblem]:
    """Schema errors, each against the column that wrote the element when there is one."""
    schema = load_schema(built.fmt.schema_file)
    if schema.validate(built.root):
        return []
    tree = built.root.getroottree()
    out = []
    for e in schema.error_log:
        path = readable_path(tree, e.path)
        column = None
        try:
            found = tree.xpath(e.path, namespaces={"mods": MODS_NS, "oai_dc": OAI_DC_NS, "dc": DC_NS})
        except etree.XPathError:
            found = []
        el = found[0] if found and isinstance(found[0], etree._Element) else None
        while el is not None and column is None:
            column = built.origins.get(el)
            el = el.getparent()
        out.append(CellProblem(column, _NS_IN_MESSAGE.sub("", e.message), path))
    return out


def serialize(built: Built) -> bytes:
    return etree.tostring(built.root, encoding="utf-8", xml_declaration=True, pretty_print=True)


def documented_paths() -> list[str]:
    return list(MODS_PATHS)
