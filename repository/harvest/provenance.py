"""The OAI provenance container of a re-exposed record.

The OAI-PMH implementation guidelines ("XML schema to hold provenance
information in the about part of a record") describe a `provenance` element
holding one `originDescription`: the baseURL, identifier, datestamp and
metadataNamespace of the record as harvested, with the attributes
`harvestDate` and `altered`. When the harvested record came with a provenance
container of its own (it was itself re-exposed), that record's
originDescription is nested inside ours, so the chain of repositories stays
readable back to the origin.

Containers are stored as canonical bytes (exclusive C14N of the provenance
element inside an unqualified `<about>`, which takes the OAI namespace of the
response it is written into). Stored `altered` is "false": the record's native
format is served exactly as harvested (canonicalized, not changed). Every
other format is crosswalked from it, so the OAI layer serves those with the
outermost `altered="true"` (`as_altered`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

PROVENANCE_NS = "http://www.openarchives.org/OAI/2.0/provenance"
PROVENANCE_SCHEMA = "http://www.openarchives.org/OAI/2.0/provenance.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

_P = f"{{{PROVENANCE_NS}}}"
# xs:date or xs:dateTime (the schema's UTCdatetimeType is a union of the two).
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")
_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2}):?(\d{2}):?(\d{2})Z?)?$")


@dataclass(frozen=True)
class Origin:
    """One originDescription: where a record was harvested from, and when."""

    base_url: str
    identifier: str
    datestamp: str
    metadata_namespace: str
    harvest_date: str
    altered: bool = False
    previous: Origin | None = None   # the harvested record's own origin, if it had one


def utc_date(value: str) -> str | None:
    """`value` as an xs:date/xs:dateTime, repairing compact forms (20210311); None if hopeless."""
    value = value.strip()
    if _DATE_RE.match(value):
        return value
    m = _COMPACT_RE.match(value)
    if m:
        y, mo, d, hh, mm, ss = m.groups()
        return f"{y}-{mo}-{d}" + (f"T{hh}:{mm}:{ss}Z" if hh else "")
    return None


def _text(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def parse_origin(el: etree._Element) -> Origin | None:
    """An originDescription element as an Origin, or None if it lacks what the schema requires."""
    fields = {name: _text(el.find(f"{_P}{name}")) for name in ("baseURL", "identifier", "datestamp",
                                                                  "metadataNamespace")}
    datestamp = utc_date(fields["datestamp"])
    harvest_date = utc_date(el.get("harvestDate", ""))
    altered = el.get("altered", "").strip()
    if not all(fields.values()) or datestamp is None or harvest_date is None or altered not in (
            "true", "false", "1", "0"):
        return None
    nested = el.find(f"{_P}originDescription")
    return Origin(fields["baseURL"], fields["identifier"], datestamp, fields["metadataNamespace"], harvest_date,
                  altered in ("true", "1"), parse_origin(nested) if nested is not None else None)


def upstream_origin(about_elements: Iterable[etree._Element]) -> Origin | None:
    """The originDescription of a harvested record's own provenance container, if any."""
    for about in about_elements:
        for prov in about.iterfind(f"{_P}provenance"):
            origin = prov.find(f"{_P}originDescription")
            if origin is not None:
                return parse_origin(origin)
    return None


def _origin_element(parent: etree._Element, origin: Origin) -> None:
    el = etree.SubElement(parent, f"{_P}originDescription",
                          {"harvestDate": origin.harvest_date, "altered": "true" if origin.altered else "false"})
    for name, value in (("baseURL", origin.base_url), ("identifier", origin.identifier),
                        ("datestamp", origin.datestamp), ("metadataNamespace", origin.metadata_namespace)):
        etree.SubElement(el, f"{_P}{name}").text = value
    if origin.previous is not None:
        _origin_element(el, origin.previous)


def about_container(origin: Origin) -> bytes:
    """`<about><provenance …>…</provenance></about>` as canonical bytes."""
    prov = etree.Element(f"{_P}provenance", nsmap={None: PROVENANCE_NS, "xsi": XSI_NS})
    prov.set(f"{{{XSI_NS}}}schemaLocation", f"{PROVENANCE_NS} {PROVENANCE_SCHEMA}")
    _origin_element(prov, origin)
    return b"<about>" + etree.tostring(prov, method="c14n", exclusive=True) + b"</about>"


def origin_of(about: bytes | None) -> Origin | None:
    """The outermost origin of a stored container (None for records not harvested)."""
    if not about:
        return None
    root = etree.fromstring(about.replace(b"<about>", b"<about xmlns=\"http://www.openarchives.org/OAI/2.0/\">", 1))
    return upstream_origin([root])


def as_altered(about: bytes) -> bytes:
    """The stored container with its outermost originDescription marked altered="true"."""
    start = about.find(b"<originDescription")
    if start < 0:
        return about
    end = about.find(b">", start)
    return about[:start] + about[start:end].replace(b'altered="false"', b'altered="true"') + about[end:]
