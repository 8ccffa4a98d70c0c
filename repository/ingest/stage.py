"""The per-document work of ingest: find, validate, canonicalize and crosswalk records.

It is a pure function of a document (plus a read of the hashes the store
already has), so ingest can run it in worker processes while the main process
writes. A record whose canonical hash the store already holds is not
crosswalked: re-ingesting an unchanged collection costs parsing and
validation only.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from crosswalks.registry import Registry
from metadata.safe_xml import parse_xml
from repository.ingest.extract import Candidate, Problem, extract, issue_problem
from repository.ingest.prepare import CrosswalkOutputError, render
from repository.ingest.sources import SourceDocument
from repository.search.index import SearchDocument
from repository.search.index import document as search_document
from repository.search.index import document_of as search_document_of
from repository.store.writes import Disseminations

KnownHashes = Callable[[list[str]], dict[str, str]]


@dataclass(frozen=True)
class StageOptions:
    max_bytes: int
    ids_from_record: bool = True
    only_format: str | None = None


@dataclass(frozen=True)
class StagedRecord:
    source: str
    line: int | None
    local_id: str
    id_rule: str
    native_format: str
    raw: bytes
    content_hash: str
    disseminations: Disseminations | None  # None: the store has this content already
    search_doc: SearchDocument | None = None


@dataclass
class StagedDocument:
    records: list[StagedRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    tombstones: int = 0
    rejected: int = 0


def _raw_bytes(c: Candidate, data: bytes) -> bytes:
    """The record exactly as ingested: the whole file for a single record, else its element."""
    if c.root.getparent() is None:
        return data
    return etree.tostring(c.root, encoding="utf-8")


def stage_document(doc: SourceDocument, registry: Registry, options: StageOptions,
                   known_hashes: KnownHashes) -> StagedDocument:
    found = extract(doc, registry, options.max_bytes, options.ids_from_record)
    out = StagedDocument(problems=list(found.problems), tombstones=found.tombstones)
    valid: list[tuple[Candidate, bytes, str]] = []
    for c in found.candidates:
        if options.only_format and c.fmt.prefix != options.only_format:
            out.problems.append(Problem(c.source, f"record is {c.fmt.prefix}, but --format {options.only_format} "
                                                  "was given", c.local_id, c.line))
            continue
        issues = [] if c.validated else c.fmt.validate(c.root)
        if issues:
            out.rejected += 1
            out.problems += [issue_problem(c.source, c.local_id, i) for i in issues[:5]]
            continue
        native = c.fmt.serialize(c.root)
        valid.append((c, native, hashlib.sha256(native).hexdigest()))
    known = known_hashes([c.local_id for c, _, _ in valid]) if valid and not out.problems else {}
    for c, native, digest in valid:
        diss, search = None, None
        if known.get(c.local_id) != digest and not out.problems:
            try:
                diss = render(registry, c.fmt, c.root, native, c.source, c.local_id)
            except CrosswalkOutputError as exc:
                out.rejected += 1
                out.problems.append(Problem(exc.source, exc.message, exc.record, c.line))
                continue
            # A MODS record's own tree is its MODS rendering's content: no need to parse that again.
            search = (search_document_of(c.root) if c.fmt.prefix == "mods"
                      else search_document(diss["mods"][0]) if "mods" in diss else None)
        out.records.append(StagedRecord(c.source, c.line, c.local_id, c.id_rule, c.fmt.prefix,
                                        _raw_bytes(c, doc.data), digest, diss, search))
    return out


def renderer(registry: Registry, r: StagedRecord) -> Callable[[], Disseminations]:
    """The staged disseminations, or, if staging skipped them because the store had this
    content and the store has changed since, a fresh rendering from the raw record."""
    if r.disseminations is not None:
        return lambda: r.disseminations

    def fresh() -> Disseminations:
        fmt = registry.format(r.native_format)
        root = parse_xml(r.raw, r.source).getroot()
        return render(registry, fmt, root, fmt.serialize(root), r.source, r.local_id)

    return fresh
