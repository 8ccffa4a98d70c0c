"""Identify, ListMetadataFormats, GetRecord and every error condition, per the spec."""
from __future__ import annotations

import re

import pytest

from tests.fixtures import load_corpus, set_datestamp
from tests.oai import NS, error_codes, oai_get, valid_response


@pytest.fixture
def loaded(settings, engine, registry):
    return load_corpus(settings, engine, registry)


def test_identify_reports_configuration_and_computed_earliest_datestamp(client, engine, loaded):
    set_datestamp(engine, "stanford-bb001dq8600", "2001-02-03T04:05:06Z")
    root = oai_get(client, verb="Identify")
    ident = root.find("oai:Identify", NS)
    assert ident.findtext("oai:repositoryName", namespaces=NS) == "Granary"
    assert ident.findtext("oai:baseURL", namespaces=NS) == "http://granary.test/oai"
    assert ident.findtext("oai:protocolVersion", namespaces=NS) == "2.0"
    assert ident.findtext("oai:adminEmail", namespaces=NS) == "librarian@granary.test"
    assert ident.findtext("oai:earliestDatestamp", namespaces=NS) == "2001-02-03T04:05:06Z"
    assert ident.findtext("oai:deletedRecord", namespaces=NS) == "persistent"
    assert ident.findtext("oai:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert [c.text for c in ident.findall("oai:compression", NS)] == ["gzip", "deflate"]
    desc = ident.find("oai:description/oaiid:oai-identifier", NS)
    assert desc.findtext("oaiid:repositoryIdentifier", namespaces=NS) == "granary.test"
    assert desc.findtext("oaiid:sampleIdentifier", namespaces=NS).startswith("oai:granary.test:")
    assert root.find("oai:request", NS).attrib == {"verb": "Identify"}


def test_identify_on_an_empty_repository_is_valid(client):
    root = oai_get(client, verb="Identify")
    assert root.findtext("oai:Identify/oai:earliestDatestamp", namespaces=NS)


def test_base_url_defaults_to_the_request_url(db_url, tmp_path, engine, registry):
    from repository.app import create_app
    from repository.config import Settings

    s = Settings.from_env({"GRANARY_DATABASE_URL": db_url, "GRANARY_SECRET_KEY": "k"}, tmp_path)
    root = oai_get(create_app(s, engine, registry).test_client(), verb="Identify")
    assert root.findtext("oai:Identify/oai:baseURL", namespaces=NS) == "http://localhost/oai"
    assert root.findtext("oai:request", namespaces=NS) == "http://localhost/oai"


@pytest.mark.parametrize("params, code", [
    ({}, "badVerb"),
    ({"verb": "Frobnicate"}, "badVerb"),
    ({"verb": ["Identify", "Identify"]}, "badVerb"),
    ({"verb": "Identify", "extra": "1"}, "badArgument"),
    ({"verb": "ListRecords"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": ["oai_dc", "mods"]}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": ""}, "badArgument"),
    ({"verb": "GetRecord", "identifier": "oai:granary.test:x"}, "badArgument"),
    ({"verb": "ListSets", "set": "stanford"}, "badArgument"),
    ({"verb": "GetRecord", "identifier": "oai:granary.test:\x01", "metadataPrefix": "oai_dc"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-02-30"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-01-01T00:00Z"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-01-01T00:00:00.5Z"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "not a spec"}, "badArgument"),
    ({"verb": "ListRecords", "resumptionToken": "garbage"}, "badResumptionToken"),
    ({"verb": "ListSets", "resumptionToken": "garbage"}, "badResumptionToken"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "identifier": "oai:granary.test:stanford-bb001dq8600", "metadataPrefix": "marc21"},
     "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "identifier": "oai:granary.test:nope", "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
    ({"verb": "GetRecord", "identifier": "oai:elsewhere.org:stanford-bb001dq8600", "metadataPrefix": "oai_dc"},
     "idDoesNotExist"),
    ({"verb": "ListMetadataFormats", "identifier": "oai:granary.test:nope"}, "idDoesNotExist"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "nosuchset"}, "noRecordsMatch"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "until": "1990-01-01"}, "noRecordsMatch"),
])
def test_error_conditions(client, loaded, params, code):
    root = oai_get(client, **params)
    assert code in error_codes(root)
    request = root.find("oai:request", NS)
    if code in ("badVerb", "badArgument"):
        assert request.attrib == {}, "a badVerb/badArgument response must not echo the request"
    else:
        assert request.attrib["verb"] == params["verb"]
        assert {k: v for k, v in request.attrib.items()} == {k: v for k, v in params.items()}


def test_no_set_hierarchy_when_the_repository_has_no_sets(client):
    assert error_codes(oai_get(client, verb="ListSets")) == ["noSetHierarchy"]
    assert error_codes(oai_get(client, verb="ListRecords", metadataPrefix="oai_dc", set="a")) == ["noSetHierarchy"]


def test_several_bad_arguments_are_all_reported(client):
    root = oai_get(client, verb="Identify", a="1", b="2")
    assert error_codes(root) == ["badArgument", "badArgument"]


def test_post_form_encoded_is_equivalent_to_get(client, loaded):
    resp = client.post("/oai", data={"verb": "GetRecord", "metadataPrefix": "mods",
                                     "identifier": "oai:granary.test:stanford-bb001dq8600"})
    assert resp.status_code == 200
    root = valid_response(resp.data)
    assert root.find("oai:GetRecord/oai:record/oai:metadata/mods:mods", NS) is not None


def test_post_with_another_content_type_is_bad_argument(client):
    resp = client.post("/oai", data=b"verb=Identify", content_type="text/plain")
    assert resp.status_code == 200
    assert error_codes(valid_response(resp.data)) == ["badArgument"]


def test_list_metadata_formats_without_and_with_identifier(client, loaded):
    root = oai_get(client, verb="ListMetadataFormats")
    formats = {f.findtext("oai:metadataPrefix", namespaces=NS): f for f in root.iterfind(".//oai:metadataFormat", NS)}
    assert set(formats) == {"mods", "oai_dc"}
    assert formats["mods"].findtext("oai:metadataNamespace", namespaces=NS) == "http://www.loc.gov/mods/v3"
    assert formats["oai_dc"].findtext("oai:schema", namespaces=NS) == "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
    root = oai_get(client, verb="ListMetadataFormats", identifier="oai:granary.test:zenodo-oai_zenodo.org_35602")
    assert {f.text for f in root.iterfind(".//oai:metadataPrefix", NS)} == {"mods", "oai_dc"}


@pytest.mark.parametrize("prefix, payload", [("mods", "mods:mods"), ("oai_dc", "oai_dc:dc")])
def test_get_record_in_native_and_crosswalked_formats(client, loaded, prefix, payload):
    for local in ("stanford-bb001dq8600", "zenodo-oai_zenodo.org_35602"):
        root = oai_get(client, verb="GetRecord", identifier=f"oai:granary.test:{local}", metadataPrefix=prefix)
        record = root.find("oai:GetRecord/oai:record", NS)
        assert record.findtext("oai:header/oai:identifier", namespaces=NS) == f"oai:granary.test:{local}"
        assert record.find(f"oai:metadata/{payload}", NS) is not None


def test_get_record_header_lists_direct_sets(client, loaded):
    root = oai_get(client, verb="GetRecord", identifier="oai:granary.test:princeton-ukrainian-001",
                   metadataPrefix="mods")
    assert [s.text for s in root.iterfind(".//oai:header/oai:setSpec", NS)] == ["princeton:ukrainian"]


def test_deleted_record_has_a_deleted_header_and_no_metadata(client, loaded):
    for prefix in ("mods", "oai_dc"):
        root = oai_get(client, verb="GetRecord", identifier="oai:granary.test:stanford-bb013fz9675",
                       metadataPrefix=prefix)
        record = root.find("oai:GetRecord/oai:record", NS)
        assert record.find("oai:header", NS).get("status") == "deleted"
        assert record.find("oai:metadata", NS) is None


def test_native_xml_is_served_in_canonical_form(client, loaded):
    root = oai_get(client, verb="GetRecord", identifier="oai:granary.test:stanford-bb001dq8600", metadataPrefix="mods")
    mods = root.find(".//mods:mods", NS)
    assert mods.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation") == \
        "http://www.loc.gov/mods/v3 http://www.loc.gov/standards/mods/v3/mods-3-8.xsd"
    assert mods.prefix == "mods"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compression_is_negotiated(client, loaded, encoding):
    import zlib

    plain = client.get("/oai?verb=ListRecords&metadataPrefix=mods")
    resp = client.get("/oai?verb=ListRecords&metadataPrefix=mods", headers={"Accept-Encoding": encoding})
    assert resp.headers["Content-Encoding"] == encoding
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    body = zlib.decompress(resp.data, wbits)
    valid_response(body)
    # responseDate, and with it the token that carries the watermark, differ between the two
    # requests; the rest is the same
    def rest(data: bytes) -> bytes:
        return re.sub(rb"(<resumptionToken[^>]*>)[^<]+", rb"\1", data.split(b"</responseDate>")[1])

    assert b"<resumptionToken" in body
    assert rest(body) == rest(plain.data)


def test_identity_encoding_when_not_accepted(client):
    resp = client.get("/oai?verb=Identify", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in resp.headers
    valid_response(resp.data)
