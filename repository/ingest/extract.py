"""Find the records in a document and the local identifier of each.

A document is a single record (mods:mods, oai_dc:dc or any installed format's
root), a mods:modsCollection, or a saved OAI-PMH response (GetRecord or
ListRecords). The local identifier rule is the first that applies: MODS
recordInfo/recordIdentifier, then a MODS identifier (type local first), then
dc:identifier, then, inside an OAI-PMH response, the header's identifier, and
last the file name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from lxml import etree

from crosswalks.registry import Registry
from metadata.errors import MetadataError, ValidationIssue
from metadata.formats import DC_NS, MODS_NS, MetadataFormat
from metadata.safe_xml import parse_xml
from repository.ingest.sources import SourceDocument
from repository.oai.identifiers import normalize_local_id

OAI_NS = "http://www.openarchives.org/OAI/2.0/"


@dataclass(frozen=True)
class Candidate:
    """One record found in a document, before validation."""

    source: str
    line: int | None
    fmt: MetadataFormat
    root: etree._Element
    local_id: str
    id_rule: str
    validated: bool = False  # checked already, as part of its valid collection


@dataclass
class Extracted:
    """What a document yielded: records, problems, and OAI tombstones passed over."""

    candidates: list[Candidate]
    problems: list[Problem]
    tombstones: int = 0


@dataclass(frozen=True)
class Problem:
    """Why a document or record was rejected, and where."""

    source: str
    message: str
    record: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.record:
            where += f", record {self.record!r}"
        if self.line:
            where += f", line {self.line}"
        return f"{where}: {self.message}"


def _text(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def local_id_from_record(root: etree._Element, fallback: str, fallback_rule: str, from_record: bool) -> tuple[str, str]:
    m = f"{{{MODS_NS}}}"
    if not from_record:
        return fallback, fallback_rule
    if root.tag == f"{m}mods":
        for el in root.iterfind(f"{m}recordInfo/{m}recordIdentifier"):
            if _text(el):
                return _text(el), "MODS recordInfo/recordIdentifier"
        ids = [el for el in root.iterfind(f"{m}identifier") if _text(el)]
        local = [el for el in ids if el.get("type") == "local"]
        if local:
            return _text(local[0]), "MODS identifier[@type='local']"
        if ids:
            return _text(ids[0]), "MODS identifier"
    else:
        for el in root.iterfind(f"{{{DC_NS}}}identifier"):
            if _text(el):
                return _text(el), "dc:identifier"
    return fallback, fallback_rule


def _file_stem(source: str) -> str:
    return PurePath(source.split("!")[-1]).stem


def extract(doc: SourceDocument, registry: Registry, max_bytes: int, ids_from_record: bool = True) -> Extracted:
    """The records of one document, or the problems that make it unusable.

    With `ids_from_record` False the record's own identifiers are skipped and the
    file name (or OAI-PMH header identifier) names it: for collections whose
    records reuse identifiers.
    """
    try:
        tree = parse_xml(doc.data, doc.name, max_bytes)
    except MetadataError as exc:
        return Extracted([], [Problem(doc.name, getattr(exc, "message", str(exc)), line=getattr(exc, "line", None))])
    root = tree.getroot()
    if root.tag == f"{{{OAI_NS}}}OAI-PMH":
        return _from_oai_response(doc, root, registry, ids_from_record)
    fmt = registry.format_for_root(root.tag)
    if fmt is None:
        known = ", ".join(sorted(registry.formats))
        return Extracted([], [Problem(doc.name, f"root element {root.tag} is not a record of a known format "
                                                f"({known}), a mods:modsCollection or an OAI-PMH response",
                                      line=root.sourceline)])
    if root.tag != fmt.root_tag:  # a collection: validated whole, so its wrapper is checked too
        members = [el for el in root if el.tag == fmt.root_tag]
        out = []
        for n, el in enumerate(members, 1):
            local, rule = local_id_from_record(el, f"{_file_stem(doc.name)}-{n}", "file name and position in the collection",
                                    ids_from_record)
            out.append(Candidate(doc.name, el.sourceline, fmt, el, normalize_local_id(local), rule, True))
        issues = fmt.validate(root)
        if issues:
            return Extracted([], [issue_problem(doc.name, _member_named(issue.path, out), issue) for issue in issues])
        return Extracted(out, [])
    local, rule = local_id_from_record(root, _file_stem(doc.name), "file name", ids_from_record)
    return Extracted([Candidate(doc.name, root.sourceline, fmt, root, normalize_local_id(local), rule)], [])


def _from_oai_response(doc: SourceDocument, root: etree._Element, registry: Registry,
                       ids_from_record: bool) -> Extracted:
    o = f"{{{OAI_NS}}}"
    out: list[Candidate] = []
    problems: list[Problem] = []
    tombstones = 0
    for rec in root.iter(f"{o}record"):
        header_id = _text(rec.find(f"{o}header/{o}identifier"))
        if rec.find(f"{o}header").get("status") == "deleted":
            tombstones += 1  # no metadata to store; counted so the summary can say so
            continue
        meta = rec.find(f"{o}metadata")
        payload = next((el for el in meta if isinstance(el.tag, str)), None) if meta is not None else None
        if payload is None:
            problems.append(Problem(doc.name, "record has no metadata", header_id, rec.sourceline))
            continue
        fmt = registry.format_for_root(payload.tag)
        if fmt is None or payload.tag != fmt.root_tag:
            problems.append(Problem(doc.name, f"metadata {payload.tag} is not a record of a known format",
                                    header_id, payload.sourceline))
            continue
        parts = header_id.split(":", 2)
        fallback = parts[2] if len(parts) == 3 and parts[0] == "oai" else header_id
        local, rule = local_id_from_record(payload, fallback or f"{_file_stem(doc.name)}-{len(out) + 1}",
                                "OAI-PMH header identifier", ids_from_record)
        out.append(Candidate(doc.name, payload.sourceline, fmt, payload, normalize_local_id(local), rule))
    if not out and not problems and root.find(f"{o}error") is not None:
        problems.append(Problem(doc.name, f"the saved response is an OAI-PMH error: {_text(root.find(f'{o}error'))}"))
    return Extracted(out, problems, tombstones)


def _member_named(path: str, members: list[Candidate]) -> str | None:
    """The local id of the collection member a validation path points into, if any."""
    m = re.match(r"^/[^/]+/[^/\[]+(?:\[(\d+)\])?", path or "")
    if not m or path.count("/") < 2:
        return None
    index = int(m.group(1) or 1) - 1
    return members[index].local_id if 0 <= index < len(members) else None


def issue_problem(source: str, record: str | None, issue: ValidationIssue) -> Problem:
    return Problem(source, f"{issue.path}: {issue.message}", record, issue.line)
