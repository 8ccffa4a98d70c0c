"""Helpers for reading and validating OAI-PMH responses in tests."""
from __future__ import annotations

from lxml import etree

from tests.shared import response_schema

OAI = "http://www.openarchives.org/OAI/2.0/"
NS = {"oai": OAI, "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
      "dc": "http://purl.org/dc/elements/1.1/", "mods": "http://www.loc.gov/mods/v3",
      "oaiid": "http://www.openarchives.org/OAI/2.0/oai-identifier"}


def valid_response(data: bytes) -> etree._Element:
    """Parse a response and assert it is valid against the official OAI-PMH schemas
    (envelope and every metadata payload, strictly)."""
    root = etree.fromstring(data)
    schema = response_schema()
    if not schema.validate(root):
        raise AssertionError(f"response is not schema-valid: {schema.error_log}\n{data[:2000]!r}")
    return root


def oai_get(client, **params) -> etree._Element:
    resp = client.get("/oai", query_string=params)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/xml")
    return valid_response(resp.data)


def error_codes(root: etree._Element) -> list[str]:
    return [e.get("code") for e in root.iterfind("oai:error", NS)]


def harvest(client, verb: str, **params) -> tuple[list[etree._Element], list[etree._Element]]:
    """Follow resumption tokens to the end; returns (items, resumptionToken elements)."""
    items, tokens = [], []
    tag = "oai:record" if verb == "ListRecords" else "oai:header" if verb == "ListIdentifiers" else "oai:set"
    root = oai_get(client, verb=verb, **params)
    while True:
        if error_codes(root):
            return items, tokens
        items += root.findall(f"oai:{verb}/{tag}", NS)
        tok = root.find(f"oai:{verb}/oai:resumptionToken", NS)
        if tok is None:
            return items, tokens
        tokens.append(tok)
        if not (tok.text or "").strip():
            return items, tokens
        root = oai_get(client, verb=verb, resumptionToken=tok.text)
