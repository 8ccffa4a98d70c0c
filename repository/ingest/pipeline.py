"""`granary ingest`: validate every record, then write them all in one transaction.

Records are parsed, validated and written in one streaming pass inside a single
transaction. After the first problem nothing more is written, but validation
goes on so that the librarian sees every bad record at once; then the
transaction rolls back and the store is exactly as it was.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlalchemy import Engine

from crosswalks.registry import Registry
from repository.config import Settings
from repository.ingest.extract import Candidate, Problem, extract, issue_problem
from repository.ingest.prepare import CrosswalkOutputError, prepare
from repository.ingest.sources import SourceError, documents
from repository.store.writes import PreparedRecord, WriteSummary, write_records


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped_deleted: int = 0
    id_rules: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)


class IngestError(Exception):
    """The batch was refused; `report.problems` says why, and nothing was written."""

    def __init__(self, report: IngestReport) -> None:
        self.report = report
        super().__init__(f"{len(report.problems)} problem(s); nothing was written")


def _raw_bytes(c: Candidate, data: bytes) -> bytes:
    """The record exactly as ingested: the whole file for a single record, else its element."""
    if c.root.getparent() is None:
        return data
    return etree.tostring(c.root, encoding="utf-8")


def ingest(paths: list[Path], settings: Settings, engine: Engine, registry: Registry,
           sets: frozenset[str] = frozenset(), only_format: str | None = None, ids_from_record: bool = True,
           progress: Callable[[int], None] | None = None) -> IngestReport:
    report = IngestReport()
    seen: dict[str, str] = {}

    def records() -> Iterator[PreparedRecord]:
        try:
            for doc in documents(paths, settings.max_xml_bytes):
                found = extract(doc, registry, settings.max_xml_bytes, ids_from_record)
                report.problems += found.problems
                report.skipped_deleted += found.tombstones
                for c in found.candidates:
                    prepared = _check(c, doc.data)
                    if prepared is not None and not report.problems:
                        yield prepared
                    if progress:
                        progress(1)
        except SourceError as exc:
            report.problems.append(Problem(exc.source, exc.message))
        if report.problems:
            raise IngestError(report)

    def _check(c: Candidate, data: bytes) -> PreparedRecord | None:
        if only_format and c.fmt.prefix != only_format:
            report.problems.append(Problem(c.source, f"record is {c.fmt.prefix}, but --format {only_format} was given",
                                           c.local_id, c.line))
            return None
        if c.local_id in seen:
            advice = ("use --id-from filename if these records reuse identifiers" if ids_from_record
                      else "give the files distinct names")
            report.problems.append(Problem(
                c.source, f"local identifier {c.local_id!r} (from {c.id_rule}) is also used by {seen[c.local_id]}; "
                f"{advice}", c.local_id, c.line))
            return None
        seen[c.local_id] = c.source
        issues = c.fmt.validate(c.root)
        if issues:
            report.rejected += 1
            report.problems += [issue_problem(c.source, c.local_id, i) for i in issues[:5]]
            return None
        report.id_rules[c.id_rule] += 1
        if report.problems:
            return None  # the batch is lost already: validate, but do not crosswalk or write
        return prepare(registry, c.fmt, c.root, c.local_id, _raw_bytes(c, data), sets, c.source)

    try:
        summary: WriteSummary = write_records(engine, settings.write_lease_timeout_seconds, records())
    except CrosswalkOutputError as exc:
        report.rejected += 1
        report.problems.append(Problem(exc.source, exc.message, exc.record))
        raise IngestError(report) from None
    report.added, report.updated, report.unchanged = summary.added, summary.updated, summary.unchanged
    return report
