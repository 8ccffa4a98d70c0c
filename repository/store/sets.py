"""setSpec syntax and hierarchy: a record in `a:b` is also in `a`."""
from __future__ import annotations

import re

SET_SPEC_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")


def is_valid_spec(spec: str) -> bool:
    return bool(SET_SPEC_RE.match(spec))


def ancestors(spec: str) -> list[str]:
    """`a:b:c` -> [`a`, `a:b`]."""
    parts = spec.split(":")
    return [":".join(parts[:i]) for i in range(1, len(parts))]


def with_ancestors(specs: set[str]) -> set[str]:
    out = set(specs)
    for s in specs:
        out.update(ancestors(s))
    return out


def join_specs(specs: set[str]) -> str:
    return " ".join(sorted(specs))


def split_specs(joined: str) -> set[str]:
    return set(joined.split()) if joined else set()
