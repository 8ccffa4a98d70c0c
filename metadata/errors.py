"""Typed errors for bad metadata, each naming where the problem is."""
from __future__ import annotations

from dataclasses import dataclass


class MetadataError(Exception):
    """Base class: input that cannot become a record."""


@dataclass(frozen=True)
class ValidationIssue:
    """One schema violation, located by line and element path so a librarian can find it."""

    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path}: {self.message}"


class XMLInputError(MetadataError):
    """The bytes are not acceptable XML (malformed, unsafe or too large)."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}")


class SchemaValidationError(MetadataError):
    """A record is well-formed but not valid against its format's official schema."""

    def __init__(self, source: str, prefix: str, issues: list[ValidationIssue]) -> None:
        self.source = source
        self.prefix = prefix
        self.issues = issues
        first = issues[0] if issues else None
        detail = f"{first}" if first else "invalid"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{source}: not valid {prefix}: {detail}{more}")
