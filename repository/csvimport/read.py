"""Read a spreadsheet saved as CSV: strict UTF-8 (with or without BOM), `,` `;` or tab.

Rows are numbered as the spreadsheet shows them (the header is row 1), counting
empty rows, so an error's row number is the one the librarian sees.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from metadata.xmlchars import has_non_xml_chars

BOM = b"\xef\xbb\xbf"
_SPLIT = re.compile(r"(?<!\\)\|")


class SheetError(Exception):
    """The file cannot be read as a spreadsheet at all."""


@dataclass(frozen=True)
class Row:
    number: int            # as the spreadsheet numbers it; the header is row 1
    cells: tuple[str, ...]  # trimmed, padded to the header's width


@dataclass(frozen=True)
class Sheet:
    header: tuple[str, ...]
    rows: tuple[Row, ...]
    delimiter: str
    empty_rows: int
    too_long: tuple[int, ...] = ()  # rows with more cells than the header has names


def decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SheetError(f"{name} is UTF-16; save it as UTF-8 (in Excel: Save As, \"CSV UTF-8\")")
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SheetError(f"{name} is not UTF-8 (byte 0x{data[exc.start]:02x} at line {line}); save it as UTF-8 "
                         "(in Excel: Save As, \"CSV UTF-8\"; in LibreOffice: character set \"Unicode (UTF-8)\")"
                         ) from None


def sniff_delimiter(text: str) -> str:
    """The delimiter the header line uses most, outside quotes: tab, `;` or `,` (the default)."""
    first = ""
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            break
        elif not quoted:
            first += ch
    counts = {d: first.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_sheet(data: bytes, name: str) -> Sheet:
    text = decode(data, name)
    if not text.strip():
        raise SheetError(f"{name} is empty: the first row must name the columns")
    delimiter = sniff_delimiter(text)
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise SheetError(f"{name} is not a readable CSV file ({exc})") from None
    header_at = next(i for i, line in enumerate(lines) if any(c.strip() for c in line))
    if header_at:
        raise SheetError(f"{name}: row 1 is empty; the first row must name the columns")
    header = tuple(c.strip() for c in lines[0])
    rows: list[Row] = []
    too_long: list[int] = []
    empty = 0
    width = len(header)
    for number, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line]
        if not any(cells):
            empty += 1
            continue
        if len(cells) > width and any(cells[width:]):
            too_long.append(number)
        cells = (cells + [""] * width)[:width]
        rows.append(Row(number, tuple(cells)))
    return Sheet(header, tuple(rows), delimiter, empty, tuple(too_long))


def split_values(cell: str) -> list[str]:
    """The values of a cell: `|` separates repeated values, `\\|` is a literal `|`."""
    return [v.strip().replace("\\|", "|") for v in _SPLIT.split(cell) if v.strip()]


def bad_characters(value: str) -> bool:
    return has_non_xml_chars(value)
