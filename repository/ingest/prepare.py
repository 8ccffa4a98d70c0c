"""Turn a validated record into what the store keeps: canonical bytes and every dissemination."""
from __future__ import annotations

import hashlib

from lxml import etree

from crosswalks.registry import Registry
from metadata.formats import MetadataFormat
from repository.store.writes import PreparedRecord


class CrosswalkOutputError(Exception):
    """A crosswalk produced output its target schema rejects: a bug to report, never to store."""


def prepare(registry: Registry, fmt: MetadataFormat, root: etree._Element, local_id: str, raw: bytes,
            sets: frozenset[str]) -> PreparedRecord:
    native = fmt.serialize(root)
    diss: dict[str, tuple[bytes, str]] = {fmt.prefix: (native, "native")}
    for prefix in registry.reachable(fmt.prefix):
        if prefix == fmt.prefix:
            continue
        target = registry.format(prefix)
        out = registry.convert(root, fmt.prefix, prefix)
        issues = target.validate(out)
        if issues:
            raise CrosswalkOutputError(
                f"the {fmt.prefix}->{prefix} crosswalk produced invalid {prefix}: {issues[0]}")
        diss[prefix] = (target.serialize(out), registry.version(fmt.prefix, prefix))
    return PreparedRecord(local_id, fmt.prefix, raw, hashlib.sha256(native).hexdigest(), diss, sets)
