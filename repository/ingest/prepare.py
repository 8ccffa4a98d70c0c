"""Turn a validated record into what the store keeps: canonical bytes and every dissemination."""
from __future__ import annotations

import hashlib

from lxml import etree

from crosswalks.registry import Registry
from metadata.formats import MetadataFormat
from repository.store.writes import Disseminations, PreparedRecord


class CrosswalkOutputError(Exception):
    """A crosswalk produced output its target schema rejects: a bug to report, never to store."""

    def __init__(self, source: str, record: str, message: str) -> None:
        self.source = source
        self.record = record
        self.message = message
        super().__init__(f"{source}, record {record!r}: {message}")


def render(registry: Registry, fmt: MetadataFormat, root: etree._Element, native: bytes,
           source: str, local_id: str) -> Disseminations:
    """The record in its native format (canonical) and every format reachable from it."""
    diss: Disseminations = {fmt.prefix: (native, "native")}
    for prefix in registry.reachable(fmt.prefix):
        if prefix == fmt.prefix:
            continue
        target = registry.format(prefix)
        out = registry.convert(root, fmt.prefix, prefix)
        issues = target.validate(out)
        if issues:
            raise CrosswalkOutputError(
                source, local_id, f"the {fmt.prefix}->{prefix} crosswalk produced invalid {prefix}: {issues[0]}")
        diss[prefix] = (target.serialize_built(out), registry.version(fmt.prefix, prefix))
    return diss


def prepare(registry: Registry, fmt: MetadataFormat, root: etree._Element, local_id: str, raw: bytes,
            sets: frozenset[str], source: str = "") -> PreparedRecord:
    native = fmt.serialize(root)
    return PreparedRecord(local_id, fmt.prefix, raw, hashlib.sha256(native).hexdigest(),
                          lambda: render(registry, fmt, root, native, source, local_id), sets)
