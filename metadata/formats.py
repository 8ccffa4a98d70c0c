"""The metadata formats Granary knows, each with what OAI-PMH needs to announce it.

ListMetadataFormats is generated from these objects, and every record is
validated and serialized through them, so a format is defined in one place.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from metadata.canonical import canonicalize, finish, to_bytes
from metadata.errors import SchemaValidationError, ValidationIssue
from metadata.schemas import load_schema

MODS_NS = "http://www.loc.gov/mods/v3"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XLINK_NS = "http://www.w3.org/1999/xlink"


@dataclass(frozen=True)
class MetadataFormat:
    """A record format: its OAI-PMH metadataPrefix, namespace, schema and record root."""

    prefix: str
    namespace: str
    schema_location: str
    schema_file: str
    root_tag: str
    container_tags: tuple[str, ...] = ()
    prefixes: dict[str | None, str] = field(default_factory=dict)
    title: str = ""

    def validate(self, root: etree._Element) -> list[ValidationIssue]:
        """Every violation of the official schema, with line and element path."""
        if root.tag != self.root_tag and root.tag not in self.container_tags:
            return [ValidationIssue(root.sourceline or 0, f"/{root.tag}",
                                    f"root element must be {self.root_tag}, found {root.tag}")]
        schema = load_schema(self.schema_file)
        # lxml validates a nested element in place (as the root of a fake document):
        # lines stay those of the source file, and nothing is copied.
        if schema.validate(root):
            return []
        doc = etree.ElementTree(root) if root.getparent() is None else None
        return [ValidationIssue(e.line, readable_path(doc, e.path) if doc is not None else _relative(root, e.path),
                                e.message) for e in schema.error_log]

    def assert_valid(self, root: etree._Element, source: str) -> None:
        issues = self.validate(root)
        if issues:
            raise SchemaValidationError(source, self.prefix, issues)

    def canonical(self, root: etree._Element) -> etree._Element:
        return canonicalize(root, self.namespace, self.prefixes, self.schema_location)

    def serialize(self, root: etree._Element) -> bytes:
        """Canonical UTF-8 bytes (no XML declaration) for storage and responses."""
        return to_bytes(self.canonical(root))

    def serialize_built(self, root: etree._Element) -> bytes:
        """Bytes of a tree a crosswalk built (deterministic prefixes and order already),
        skipping the rewrite that foreign input needs."""
        return to_bytes(finish(root, self.namespace, self.schema_location))


def readable_path(doc: etree._ElementTree, xpath: str | None) -> str:
    """Turn libxml2's `/*/*[2]/*[1]` into `/mods/titleInfo[2]/title` for people."""
    if not xpath:
        return ""
    try:
        prefixes: dict[str, str] = {}
        for el in doc.iter(etree.Element):
            for p, ns in el.nsmap.items():
                if p:
                    prefixes.setdefault(p, ns)
        found = doc.xpath(xpath, namespaces=prefixes)
    except etree.XPathError:
        return xpath
    if not found or not isinstance(found[0], etree._Element):
        return xpath
    steps = []
    el = found[0]
    while el is not None:
        name = etree.QName(el).localname
        parent = el.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == el.tag]
            if len(same) > 1:
                name += f"[{same.index(el) + 1}]"
        steps.append(name)
        el = parent
    return "/" + "/".join(reversed(steps))


def _relative(root: etree._Element, xpath: str | None) -> str:
    """A readable path for an error inside a nested record, from the record's root."""
    doc = etree.ElementTree(copy.deepcopy(root))
    return readable_path(doc, xpath)


MODS = MetadataFormat(
    prefix="mods",
    namespace=MODS_NS,
    schema_location="http://www.loc.gov/standards/mods/v3/mods-3-8.xsd",
    schema_file="mods-3-8.xsd",
    root_tag=f"{{{MODS_NS}}}mods",
    container_tags=(f"{{{MODS_NS}}}modsCollection",),
    prefixes={"mods": MODS_NS, "xlink": XLINK_NS},
    title="Metadata Object Description Schema (MODS) 3.8",
)

OAI_DC = MetadataFormat(
    prefix="oai_dc",
    namespace=OAI_DC_NS,
    schema_location="http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
    schema_file="oai_dc.xsd",
    root_tag=f"{{{OAI_DC_NS}}}dc",
    prefixes={"oai_dc": OAI_DC_NS, "dc": DC_NS},
    title="Simple Dublin Core (OAI-PMH oai_dc)",
)

BUILTIN_FORMATS: tuple[MetadataFormat, ...] = (OAI_DC, MODS)
