"""Validate every row of a spreadsheet, then write all the records in one transaction, or none.

Each row is built into a record, validated against its schema (errors name the
row and the column), and then staged exactly as `granary ingest` stages an XML
file: the same identifier rule, canonical form, content hash and crosswalks.
Nothing is written unless every row is valid; `dry_run` stops before the write
and says what the write would do.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import Engine, select

from crosswalks.registry import Registry
from repository.config import Settings
from repository.csvimport.build import (
    RowInvalid,
    build_record,
    record_format,
    serialize,
    validate,
)
from repository.csvimport.columns import (
    Column,
    ColumnError,
    column_letter,
    parse_column,
)
from repository.csvimport.read import (
    SheetError,
    bad_characters,
    read_sheet,
    split_values,
)
from repository.db.tables import records, sets
from repository.ingest.extract import Problem
from repository.ingest.pipeline import write_prepared
from repository.ingest.sources import SourceDocument, SourceError, read_bounded
from repository.ingest.stage import StagedRecord, StageOptions, renderer, stage_document
from repository.oai.identifiers import normalize_local_id
from repository.store.errors import SetError
from repository.store.queries import content_hashes
from repository.store.sets import split_specs
from repository.store.writes import PreparedRecord

Progress = Callable[[int], None]


@dataclass
class CsvReport:
    source: str
    rows: int = 0                 # rows with values (one record each)
    empty_rows: int = 0
    native_format: str = ""
    delimiter: str = ","
    dry_run: bool = False
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0             # rows with at least one problem
    problems: list[Problem] = field(default_factory=list)


class CsvImportError(Exception):
    """The sheet was refused; `report.problems` says why, and nothing was written."""

    def __init__(self, report: CsvReport) -> None:
        self.report = report
        super().__init__(f"{len(report.problems)} problem(s); nothing was written")


def _chunks(items: list[str], size: int = 500):
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _header(report: CsvReport, header: tuple[str, ...], rows) -> tuple[list[Column | None], Column | None]:
    """A Column for each header cell (None: an unnamed, empty column to ignore) and the id column."""
    name = report.source
    columns: list[Column | None] = []
    for i, text in enumerate(header):
        if not text:
            if any(r.cells[i] for r in rows):
                report.problems.append(Problem(f"{name}, header row, column {column_letter(i)}",
                                               "this column has values but no name"))
            columns.append(None)
            continue
        try:
            columns.append(parse_column(i, text))
        except ColumnError as exc:
            report.problems.append(Problem(f"{name}, header row, column {column_letter(i)} ({text})", str(exc)))
            columns.append(None)
    ids = [c for c in columns if c is not None and c.kind == "id"]
    if not ids:
        report.problems.append(Problem(f"{name}, header row", "there is no `id` column: every row needs its "
                                                               "local identifier in a column named id"))
    for extra in ids[1:]:
        report.problems.append(Problem(f"{name}, header row, {extra.label}",
                                       f"a second id column (the first is {ids[0].label})"))
    return columns, ids[0] if ids else None


def import_csv(path: Path, settings: Settings, engine: Engine, registry: Registry,
               set_specs: frozenset[str] = frozenset(), dry_run: bool = False,
               progress: Progress | None = None, write_progress: Progress | None = None,
               data: bytes | None = None) -> CsvReport:
    """Import the sheet at `path` atomically. CsvImportError if any row is refused (nothing written)."""
    name = str(path)
    report = CsvReport(name, dry_run=dry_run)
    try:
        # Refused by its size before it is read: the whole sheet is held in memory.
        sheet = read_sheet(read_bounded(path, settings.max_csv_bytes) if data is None else data, name)
    except SourceError as exc:
        report.problems.append(Problem(name, exc.message))
        raise CsvImportError(report) from None
    except SheetError as exc:
        report.problems.append(Problem(name, str(exc)))
        raise CsvImportError(report) from None
    report.delimiter, report.empty_rows, report.rows = sheet.delimiter, sheet.empty_rows, len(sheet.rows)
    columns, id_column = _header(report, sheet.header, sheet.rows)
    if report.problems:
        raise CsvImportError(report)
    assert id_column is not None
    described = [c for c in columns if c is not None and c.kind != "id"]
    fmt = record_format(described)
    report.native_format = fmt.prefix

    # The store's content hashes, fetched once, so unchanged records skip the crosswalks.
    wanted = sorted({normalize_local_id(r.cells[id_column.index]) for r in sheet.rows if r.cells[id_column.index]})
    known: dict[str, str] = {}
    with engine.connect() as conn:
        for chunk in _chunks(wanted):
            known.update(content_hashes(conn, chunk))
    options = StageOptions(settings.max_xml_bytes)

    seen: dict[str, int] = {}
    too_long = set(sheet.too_long)
    staged: list[StagedRecord] = []
    for row in sheet.rows:
        if progress:
            progress(1)
        where = f"{name}, row {row.number}"
        problems: list[Problem] = []
        if row.number in too_long:
            problems.append(Problem(where, f"more cells than the header row names ({len(sheet.header)} columns)"))
        raw_id = row.cells[id_column.index]
        local_id = normalize_local_id(raw_id) if raw_id else None
        if not raw_id:
            problems.append(Problem(f"{where}, {id_column.label}", "no id: every row needs its local identifier"))
        elif local_id in seen:
            problems.append(Problem(f"{where}, {id_column.label}", f"id {raw_id!r} is also the id of row "
                                                                   f"{seen[local_id]}", local_id))
        else:
            seen[local_id] = row.number
        cells: list[tuple[Column, list[str]]] = []
        for column in columns:
            if column is None:
                continue
            cell = row.cells[column.index]
            if bad_characters(cell):
                problems.append(Problem(f"{where}, {column.label}", "contains characters XML cannot carry "
                                                                    "(control characters)", local_id))
            elif column.kind != "id":
                cells.append((column, split_values(cell)))
        if not problems:
            try:
                built = build_record(fmt, raw_id, cells)
                issues = validate(built)
            except RowInvalid as exc:
                issues = exc.problems
            for issue in issues:
                if issue.column is not None:
                    problems.append(Problem(f"{where}, {issue.column.label}", issue.message, local_id))
                else:
                    problems.append(Problem(where, f"{issue.path}: {issue.message}", local_id))
        if problems:
            report.rejected += 1
            report.problems += problems
            continue
        if report.problems:
            continue  # the batch is refused already: only look for more problems
        doc = stage_document(SourceDocument(where, serialize(built)), registry, options,
                             lambda ids: {i: known[i] for i in ids if i in known})
        if doc.problems:
            report.rejected += 1
            report.problems += doc.problems
            continue
        staged += doc.records
    if report.problems:
        raise CsvImportError(report)

    if dry_run:
        _predict(report, engine, staged, set_specs)
        return report
    prepared = (PreparedRecord(r.local_id, r.native_format, r.raw, r.content_hash, renderer(registry, r), set_specs)
                for r in staged)
    write_prepared(engine, settings, prepared, report, CsvImportError, write_progress)
    return report


def _predict(report: CsvReport, engine: Engine, staged: list[StagedRecord], set_specs: frozenset[str]) -> None:
    """What write_records would do, by the same rules, reading the store only."""
    cols = records.c
    with engine.connect() as conn:
        if set_specs:
            found = set(conn.execute(select(sets.c.spec).where(sets.c.spec.in_(set_specs))).scalars())
            missing = sorted(set_specs - found)
            if missing:
                raise SetError(f"set {missing[0]!r} does not exist; create it first with "
                               f"`granary sets add {missing[0]} NAME`")
        existing = {}
        for chunk in _chunks([r.local_id for r in staged]):
            existing.update({row.local_id: row for row in conn.execute(
                select(cols.local_id, cols.content_hash, cols.deleted, cols.set_specs)
                .where(cols.local_id.in_(chunk)))})
    for r in staged:
        row = existing.get(r.local_id)
        if row is None:
            report.added += 1
        elif (row.content_hash != r.content_hash or row.deleted
              or split_specs(row.set_specs) | set(set_specs) != split_specs(row.set_specs)):
            report.updated += 1
        else:
            report.unchanged += 1
