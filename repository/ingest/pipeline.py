"""`granary ingest`: validate every record, then write them all in one transaction.

Documents are staged (parsed, validated, canonicalized, crosswalked) in order,
in worker processes when `jobs` > 1, and written in one streaming pass inside a
single transaction. After the first problem nothing more is written, but
staging goes on so that the librarian sees every bad record at once; then the
transaction rolls back and the store is exactly as it was.
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from crosswalks.registry import Registry
from repository.config import Settings
from repository.ingest.extract import Problem
from repository.ingest.parallel import staged_in_workers
from repository.ingest.prepare import CrosswalkOutputError
from repository.ingest.sources import SourceError, documents
from repository.ingest.stage import (
    StagedDocument,
    StageOptions,
    renderer,
    stage_document,
)
from repository.store.queries import content_hashes
from repository.store.writes import (
    PreparedRecord,
    write_records,
)


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


def auto_jobs(paths: list[Path]) -> int:
    """Worker processes pay off once there is more to parse than their start-up costs
    (about half a second): directories, archives, many files, or several megabytes."""
    many = len(paths) > 16 or any(p.is_dir() or p.suffix.lower() == ".zip" for p in paths)
    large = sum(p.stat().st_size for p in paths if p.is_file()) > 8 * 1024 * 1024
    return (os.cpu_count() or 1) if many or large else 1


def ingest(paths: list[Path], settings: Settings, engine: Engine, registry: Registry,
           sets: frozenset[str] = frozenset(), only_format: str | None = None, ids_from_record: bool = True,
           progress: Callable[[int], None] | None = None, jobs: int = 1) -> IngestReport:
    """Ingest `paths` atomically. With jobs > 1 the installed (default) registry is used in workers."""
    report = IngestReport()
    # Local ids already in this batch, by an 8-byte digest, with the index of their
    # source: memory stays near 70 bytes a record however large the batch.
    seen: dict[int, int] = {}
    sources: list[str] = []
    options = StageOptions(settings.max_xml_bytes, ids_from_record, only_format)

    def known(local_ids: list[str]) -> dict[str, str]:
        with engine.connect() as conn:
            return content_hashes(conn, local_ids)

    def staged() -> Iterator[StagedDocument]:
        docs = documents(paths, settings.max_xml_bytes)
        if jobs > 1:
            yield from staged_in_workers(docs, options, settings.database_url, jobs)
        else:
            for doc in docs:
                yield stage_document(doc, registry, options, known)

    def records() -> Iterator[PreparedRecord]:
        try:
            for doc in staged():
                source_index = len(sources)
                sources.append(doc.records[0].source if doc.records else "")
                report.problems += doc.problems
                report.rejected += doc.rejected
                report.skipped_deleted += doc.tombstones
                for r in doc.records:
                    if progress:
                        progress(1)
                    key = _digest(r.local_id)
                    if key in seen:
                        advice = ("use --id-from filename if these records reuse identifiers" if ids_from_record
                                  else "give the files distinct names")
                        report.problems.append(Problem(
                            r.source, f"local identifier {r.local_id!r} (from {r.id_rule}) is also used by "
                            f"{sources[seen[key]]}; {advice}", r.local_id, r.line))
                        continue
                    seen[key] = source_index
                    report.id_rules[r.id_rule] += 1
                    if not report.problems:
                        yield PreparedRecord(r.local_id, r.native_format, r.raw, r.content_hash,
                                             renderer(registry, r), sets, search_doc=r.search_doc)
        except SourceError as exc:
            report.problems.append(Problem(exc.source, exc.message))
        if report.problems:
            raise IngestError(report)

    write_prepared(engine, settings, records(), report, IngestError)
    return report


def write_prepared(engine: Engine, settings: Settings, prepared: Iterable[PreparedRecord], report,
                   refusal: type[Exception], progress: Callable[[int], None] | None = None) -> None:
    """Write a batch atomically and count the outcome into `report` (an ingest or import report).
    A crosswalk that produced invalid output refuses the batch as a problem of the report."""
    try:
        summary = write_records(engine, settings.write_lease_timeout_seconds, prepared, progress=progress)
    except CrosswalkOutputError as exc:
        report.rejected += 1
        report.problems.append(Problem(exc.source, exc.message, exc.record))
        raise refusal(report) from None
    report.added, report.updated, report.unchanged = summary.added, summary.updated, summary.unchanged


def _digest(local_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(local_id.encode(), digest_size=8).digest(), "big")
