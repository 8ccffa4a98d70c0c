"""oai-identifier syntax: `oai:<repositoryIdentifier>:<local identifier>`.

Local identifiers come from records and may hold characters the syntax does
not allow (spaces, non-ASCII); those are %-escaped as UTF-8, as the
oai-identifier guidelines describe, so every record gets a legal identifier.
"""
from __future__ import annotations

import re
from urllib.parse import quote

_LOCAL_SAFE = "-_.!~*'();/?:@&=+$,"
_LOCAL_RE = re.compile(r"^[a-zA-Z0-9\-_.!~*'();/?:@&=+$,%]+$")


def normalize_local_id(raw: str) -> str:
    """A legal local identifier for `raw` (unchanged when it already is one)."""
    raw = raw.strip()
    if _LOCAL_RE.match(raw) and not re.search(r"%(?![0-9A-Fa-f]{2})", raw):
        return raw
    return quote(raw, safe=_LOCAL_SAFE)


def oai_identifier(repository_id: str, local_id: str) -> str:
    return f"oai:{repository_id}:{local_id}"


def local_id_of(repository_id: str, identifier: str) -> str | None:
    """The local part of an identifier of this repository, else None."""
    prefix = f"oai:{repository_id}:"
    if identifier.startswith(prefix) and len(identifier) > len(prefix):
        return identifier[len(prefix):]
    return None
