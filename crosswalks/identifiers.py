"""How a typed MODS identifier becomes one DC string, and back.

Simple DC has no identifier type, so the type must travel inside the value or
be lost. A value that already says what it is (a URI, doi:..., hdl:...) is
left alone; DOIs and handles get their customary `doi:`/`hdl:` prefix; any
other type is written as a label, `isbn: 0-19-...`. `parse_identifier` is the
exact inverse, and only accepts a label when formatting the parse gives the
original string back, so DC -> MODS -> DC never alters an identifier.
"""
from __future__ import annotations

import re

URI_SCHEMES = frozenset({"http", "https", "ftp", "urn", "info", "oai", "tag", "mailto", "ark", "doi", "hdl", "file"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):\S")
_PREFIXES = {"doi": "doi:", "hdl": "hdl:"}
# Identifier types (LoC "Standard Identifiers Scheme" and common MODS practice) accepted as labels.
LABELLED_TYPES = frozenset({
    "isbn", "issn", "issn-l", "ismn", "isrc", "istc", "iswc", "isni", "lccn", "oclc", "local", "upc", "ean",
    "sici", "stock number", "issue number", "matrix number", "music plate", "music publisher",
    "videorecording identifier", "pmid", "pmcid", "arxiv", "orcid", "barcode", "accession number",
})
_LABEL = re.compile(r"([^:\n]{1,40}): (\S.*)", re.S)


def has_scheme(value: str) -> bool:
    m = _SCHEME.match(value)
    return bool(m) and m.group(1).lower() in URI_SCHEMES


def uri_type(value: str) -> str | None:
    """The MODS identifier type of a self-describing value: doi, hdl or uri (None if it is not a URI)."""
    m = _SCHEME.match(value)
    if not m or m.group(1).lower() not in URI_SCHEMES:
        return None
    scheme = m.group(1).lower()
    return scheme if scheme in _PREFIXES else "uri"


def format_identifier(value: str, type_: str | None) -> str:
    if not type_ or type_.lower() == "uri" or has_scheme(value):
        return value
    prefix = _PREFIXES.get(type_.lower())
    return prefix + value if prefix else f"{type_}: {value}"


def parse_identifier(value: str) -> tuple[str, str | None]:
    """(value, MODS type) for a DC identifier; the type is None when the string does not say."""
    m = _LABEL.fullmatch(value)
    if m and m.group(1).lower() in LABELLED_TYPES and format_identifier(m.group(2), m.group(1)) == value:
        return m.group(2), m.group(1)
    return value, uri_type(value)
