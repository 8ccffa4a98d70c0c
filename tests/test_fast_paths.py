"""The fast paths (stored renderings, keyset pages, text-built envelopes) give exactly what
a straightforward implementation gives: same records, same order, same bytes."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from lxml import etree

from metadata.safe_xml import parse_xml
from repository.app import create_app
from repository.db.tables import record_sets, record_sources, records
from tests.fixtures import load_corpus
from tests.oai import NS, OAI, harvest


@pytest.fixture
def loaded(settings, engine, registry):
    return load_corpus(settings, engine, registry)


def _straightforward(engine, registry, prefix: str, set_spec: str | None) -> list[etree._Element]:
    """Every record of the list, built from the native XML with lxml, in (datestamp, id) order."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(records, record_sources.c.native_xml).join(record_sources, record_sources.c.record_id == records.c.id)).all()
        members = {r.record_id for r in conn.execute(sa.select(record_sets.c.record_id)
                                                       .where(record_sets.c.spec == set_spec))}
    out = []
    for row in sorted(rows, key=lambda r: (r.stamp, r.id)):
        if set_spec is not None and row.id not in members:
            continue
        rec = etree.Element(f"{{{OAI}}}record", nsmap={None: OAI})
        header = etree.SubElement(rec, f"{{{OAI}}}header")
        if row.deleted:
            header.set("status", "deleted")
        etree.SubElement(header, f"{{{OAI}}}identifier").text = f"oai:granary.test:{row.local_id}"
        etree.SubElement(header, f"{{{OAI}}}datestamp").text = \
            datetime.fromtimestamp(row.stamp // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for spec in sorted(row.set_specs.split()):
            etree.SubElement(header, f"{{{OAI}}}setSpec").text = spec
        if not row.deleted:
            native = registry.format(row.native_format)
            root = parse_xml(row.native_xml, row.local_id).getroot()
            if prefix == row.native_format:
                payload = parse_xml(native.serialize(root), row.local_id).getroot()
            else:
                target = registry.format(prefix)
                payload = parse_xml(target.serialize_built(registry.convert(root, row.native_format, prefix)),
                                    row.local_id).getroot()
            etree.SubElement(rec, f"{{{OAI}}}metadata").append(payload)
        out.append(rec)
    return out


def _c14n(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True)


@pytest.mark.parametrize("prefix", ["oai_dc", "mods"])
@pytest.mark.parametrize("set_spec", [None, "princeton"])
def test_list_records_equals_the_straightforward_rendering(client, engine, registry, loaded, prefix, set_spec):
    params = {"metadataPrefix": prefix} | ({"set": set_spec} if set_spec else {})
    served, _ = harvest(client, "ListRecords", **params)
    expected = _straightforward(engine, registry, prefix, set_spec)
    assert [r.findtext("oai:header/oai:identifier", namespaces=NS) for r in served] == \
        [r.findtext("oai:header/oai:identifier", namespaces=NS) for r in expected]
    for got, want in zip(served, expected):
        assert _c14n(got) == _c14n(want), got.findtext("oai:header/oai:identifier", namespaces=NS)


def test_list_identifiers_equals_the_headers_of_list_records(client, loaded):
    headers, _ = harvest(client, "ListIdentifiers", metadataPrefix="mods")
    records_, _ = harvest(client, "ListRecords", metadataPrefix="mods")
    assert [_c14n(h) for h in headers] == [_c14n(r.find("oai:header", NS)) for r in records_]


def test_get_record_serves_the_same_bytes_as_lists(client, loaded):
    served, _ = harvest(client, "ListRecords", metadataPrefix="oai_dc")
    for rec in served[:12]:
        ident = rec.findtext("oai:header/oai:identifier", namespaces=NS)
        one = etree.fromstring(client.get("/oai", query_string={"verb": "GetRecord", "identifier": ident,
                                                                  "metadataPrefix": "oai_dc"}).data)
        assert _c14n(one.find("oai:GetRecord/oai:record", NS)) == _c14n(rec)


@pytest.mark.parametrize("page_size", [1, 8, 23])
def test_pages_of_any_size_equal_the_straightforward_rendering(settings, engine, registry, loaded, page_size):
    """PostgreSQL streams a page's rows in chunks of 8 while the page is rendered: pages that
    end inside a chunk, on its edge, or span several give the same records as the plain way."""
    client = create_app(replace(settings, page_size=page_size), engine, registry).test_client()
    served, tokens = harvest(client, "ListRecords", metadataPrefix="oai_dc")
    expected = _straightforward(engine, registry, "oai_dc", None)
    assert [_c14n(r) for r in served] == [_c14n(r) for r in expected]
    pages = -(-len(expected) // page_size)
    assert len(tokens) == (pages if pages > 1 else 0)  # the last page of several has an empty token
    assert all(t.get("completeListSize") == str(len(expected)) for t in tokens)
