"""Parse untrusted XML without entity expansion, DTDs, XInclude or network access.

Records come from people's exports and from other servers, so every parse goes
through here: a DOCTYPE is refused outright (no record format needs one, and it
is the door for entity attacks), the parser never fetches anything, and the
input size is bounded before parsing starts.

The DOCTYPE is refused before the document is parsed: a first pass stops at the
DOCTYPE or at the first element, whichever comes first, so no declaration of an
internal subset is ever acted on and a billion-laughs document costs no more
than its prolog. It is the parser that finds the DOCTYPE, so a document in
UTF-16 or UTF-7 cannot hide one from a byte search.

libxml2's own limits still apply (elements nested 256 deep, a text of ten
million characters); its messages name parser options, so they are reworded.
Processing instructions (`<?xml-stylesheet?>` and the like) are accepted and
never acted on; canonicalization drops them from everything served.
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable

from lxml import etree

from metadata.errors import XMLInputError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DOCTYPE_REFUSED = "DOCTYPE declarations are not accepted (entity expansion is refused)"
XINCLUDE_REFUSED = "XInclude elements are not accepted (nothing is ever included)"
XINCLUDE_NAMESPACES = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")

_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False, "dtd_validation": False,
            "huge_tree": False}

# libxml2's messages for its safety limits and forbidden characters, in a librarian's words.
_REWORDED: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"Excessive depth in document: (\d+)"),
     lambda m: f"elements are nested more than {m.group(1)} levels deep (the limit)"),
    (re.compile(r"Text node too long"),
     lambda m: "a text is longer than 10,000,000 characters (the limit)"),
    (re.compile(r"xmlParseCharRef: invalid xmlChar value (\d+)"),
     lambda m: f"the character reference to U+{int(m.group(1)):04X} names a character XML 1.0 does not allow"),
    (re.compile(r"PCDATA invalid Char value (\d+)"),
     lambda m: f"character U+{int(m.group(1)):04X} is not allowed in XML 1.0 (a control character)"),
)
_COLUMN = re.compile(r", line \d+, column (\d+)$")
# An XML declaration in 8-bit bytes (no byte order mark) that names a 16- or 32-bit encoding.
_WIDE_DECLARED = re.compile(rb'^<\?xml[^>]*?\sencoding\s*=\s*["\']((?:UTF|UCS)-?(?:16|32|2|4)[A-Z]*)["\']', re.I)


class _Doctype(Exception):
    """The prolog scan met a DOCTYPE."""


class _PrologEnd(Exception):
    """The prolog scan reached the first element without meeting a DOCTYPE."""


class _PrologScan:
    """Parser target for the first pass: stops at the DOCTYPE (before its internal
    subset is read) or at the first element."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _Doctype()

    def start(self, tag: str, attrib: dict, nsmap: dict | None = None) -> None:
        raise _PrologEnd()

    def close(self) -> None:
        return None


_scanners = threading.local()
_SCAN_CHUNK = 4 * 1024


def _has_doctype(data: bytes) -> bool:
    """Whether a DOCTYPE comes before the first element. Fed in chunks, so that the scan
    stops with the chunk holding the first element; one parser per thread, because making
    a parser with a Python target costs more than parsing a small record."""
    parser = getattr(_scanners, "parser", None)
    if parser is None:
        parser = _scanners.parser = etree.XMLParser(target=_PrologScan(), **_OPTIONS)
    try:
        for at in range(0, len(data), _SCAN_CHUNK):
            parser.feed(data[at:at + _SCAN_CHUNK])
        parser.close()
    except _Doctype:
        return True
    except (_PrologEnd, etree.XMLSyntaxError):
        return False  # a syntax error is reported by the real parse, with its line
    finally:
        # Ends the abandoned document, so the next scan starts afresh; what it raises
        # is that document's (already answered) outcome.
        with contextlib.suppress(_Doctype, _PrologEnd, etree.XMLSyntaxError):
            parser.close()
    return False


def _line_of(data: bytes, marker: bytes) -> int | None:
    """The line `marker` is on, when the document is in an ASCII-compatible encoding."""
    at = data.find(marker)
    return data.count(b"\n", 0, at) + 1 if at >= 0 else None


def _syntax_message(msg: str) -> str:
    for pattern, say in _REWORDED:
        found = pattern.search(msg)
        if found:
            column = _COLUMN.search(msg)
            return say(found) + (f", column {column.group(1)}" if column else "")
    return msg


def parse_xml(data: bytes, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse `data`; `source` names the input in any error (a file name, a record)."""
    if len(data) > max_bytes:
        raise XMLInputError(source, f"document is {len(data):,} bytes, over the limit of {max_bytes:,}")
    wide = _WIDE_DECLARED.match(data)
    if wide:
        raise XMLInputError(source, f"the XML declaration says encoding {wide.group(1).decode()}, but the bytes "
                                    "are 8-bit text; correct the declaration or save the file in that encoding", 1)
    if _has_doctype(data):
        raise XMLInputError(source, DOCTYPE_REFUSED, _line_of(data, b"<!DOCTYPE"))
    try:
        tree = etree.ElementTree(etree.fromstring(data, etree.XMLParser(remove_blank_text=False, **_OPTIONS)))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise XMLInputError(source, f"not well-formed XML: {_syntax_message(exc.msg)}", line) from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise XMLInputError(source, str(exc)) from None
    for el in tree.iter(*(f"{{{ns}}}*" for ns in XINCLUDE_NAMESPACES)):
        raise XMLInputError(source, XINCLUDE_REFUSED, el.sourceline)
    return tree
