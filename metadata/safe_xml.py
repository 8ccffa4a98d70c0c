"""Parse untrusted XML without entity expansion, DTDs or network access.

Records come from people's exports and from other servers, so every parse goes
through here: a DOCTYPE is refused outright (no record format needs one, and it
is the door for entity attacks), the parser never fetches anything, and the
input size is bounded before parsing starts.
"""
from __future__ import annotations

from lxml import etree

from metadata.errors import XMLInputError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_xml(data: bytes, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse `data`; `source` names the input in any error (a file name, a record)."""
    if len(data) > max_bytes:
        raise XMLInputError(source, f"document is {len(data):,} bytes, over the limit of {max_bytes:,}")
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise XMLInputError(source, f"not well-formed XML: {exc.msg}", line) from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise XMLInputError(source, str(exc)) from None
    if tree.docinfo.doctype:
        raise XMLInputError(source, "DOCTYPE declarations are not accepted (entity expansion is refused)", 1)
    return tree
