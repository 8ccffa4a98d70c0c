"""The crosswalk workbench and the browsable OAI endpoint (xml-stylesheet + oai.xsl)."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from lxml import etree

from crosswalks.report import explain
from metadata.safe_xml import parse_xml
from repository.demo.load import DEMO_DIR, load_demo
from tests.oai import NS, valid_response
from tests.test_web_pages import page

ANCHOR_FILE = DEMO_DIR / "records" / "110365.xml"
XSL = Path(__file__).resolve().parents[1] / "repository" / "static" / "oai.xsl"
PI = b'<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet type="text/xsl" href="/static/oai.xsl"?>\n<OAI-PMH'


def post(client, status=200, **form):
    resp = client.post("/workbench", data=form, content_type="multipart/form-data")
    assert resp.status_code == status, resp.get_data(as_text=True)[:2000]
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    return resp.get_data(as_text=True)


# --- workbench -----------------------------------------------------------------------------

def test_workbench_form(client):
    html = page(client, "/workbench")
    assert '<label for="source">' in html and '<label for="file">' in html and '<label for="target">' in html
    assert "Nothing you send is stored" in html


def test_workbench_pasted_mods_to_dc_matches_the_cli_report(client, registry, engine):
    source = ANCHOR_FILE.read_text(encoding="utf-8")
    html = post(client, source=source, target="oai_dc")
    report = explain(parse_xml(ANCHOR_FILE.read_bytes(), "x").getroot(), "mods", "oai_dc", registry)
    assert "the output is valid oai_dc" in html
    assert html.count('<tr class="outcome-') == len(report.events)
    for outcome in ("mapped", "transformed", "dropped"):
        n = sum(1 for e in report.events if e.outcome.value == outcome)
        assert f"{n} {outcome}" in html
    assert "&lt;dc:title&gt;Handwritten letter from Gao Gang" in html             # the output, escaped
    assert 'id="src-L3"' in html and 'id="out-L1"' in html                        # numbered lines
    with engine.connect() as conn:                                                 # nothing stored
        assert conn.exec_driver_sql("SELECT count(*) FROM records").scalar() == 0


def test_workbench_upload_dc_to_mods(client):
    dc = (b'<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
          b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Uploaded</dc:title>'
          b'<dc:date>1962-10-27</dc:date></oai_dc:dc>')
    html = post(client, file=(io.BytesIO(dc), "record.xml"), source="", target="mods")
    assert "oai_dc → mods" in html and "the output is valid mods" in html and "Uploaded" in html


def test_workbench_shows_schema_errors_with_line_numbers(client):
    bad = ('<mods xmlns="http://www.loc.gov/mods/v3">\n<titleInfo><title>T</title></titleInfo>\n'
           '<bogus>x</bogus>\n</mods>')
    html = post(client, source=bad, target="oai_dc")
    assert "The source is not valid mods" in html
    assert re.search(r'<a href="#src-L3">Source line 3</a>', html)


def test_workbench_malformed_and_unknown_input(client):
    html = post(client, 422, source="<mods>\n<unclosed>\n</mods>", target="oai_dc")
    assert "not well-formed XML" in html and 'class="line-error"' in html
    html = post(client, 422, source="<html><body/></html>", target="oai_dc")
    assert "not a record of a known format" in html
    html = post(client, 422, source='<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', target="oai_dc")
    assert "DOCTYPE" in html
    html = post(client, 422, source='<modsCollection xmlns="http://www.loc.gov/mods/v3"/>', target="oai_dc")
    assert "paste a single record" in html


def test_workbench_form_errors(client):
    post(client, 400, source="", target="oai_dc")
    post(client, 400, source="<x/>", target="marc")
    big = "<mods>" + "x" * (1024 * 1024) + "</mods>"
    post(client, 413, source=big, target="oai_dc")


def test_workbench_escapes_hostile_input(client):
    evil = ('<mods xmlns="http://www.loc.gov/mods/v3"><titleInfo><title>&lt;script&gt;alert(1)&lt;/script&gt;'
            '</title></titleInfo></mods>')
    html = post(client, source=evil, target="oai_dc")
    assert "<script>alert" not in html and "&amp;lt;script&amp;gt;" in html


# --- the browsable OAI endpoint -------------------------------------------------------------

@pytest.fixture
def demo(settings, engine, registry):
    load_demo(settings, engine, registry)


@pytest.mark.parametrize("query", [
    {"verb": "Identify"}, {"verb": "ListMetadataFormats"}, {"verb": "ListSets"},
    {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}, {"verb": "ListRecords", "metadataPrefix": "mods"},
    {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:granary.test:110365"},
    {"verb": "Nonsense"}, {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "nope"},
])
def test_every_response_names_the_stylesheet_and_stays_valid(client, demo, query):
    resp = client.get("/oai", query_string=query)
    assert resp.data.startswith(PI)
    valid_response(resp.data)                      # the instruction changes nothing for a parser


def test_compressed_responses_carry_it_too(client, demo):
    import gzip
    resp = client.get("/oai?verb=Identify", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(resp.data).startswith(PI)


def test_stylesheet_can_be_switched_off(app, client, demo):
    app.config["GRANARY_OAI_STYLESHEET"] = False
    data = client.get("/oai?verb=Identify").data
    assert b"xml-stylesheet" not in data and data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH')


def _render(client, **query) -> etree._Element:
    data = client.get("/oai", query_string=query).data
    transform = etree.XSLT(etree.parse(str(XSL)))
    return transform(etree.fromstring(data)).getroot()


def _links(html: etree._Element) -> list[str]:
    return [a.get("href") for a in html.iter("a")]


def test_xsl_renders_every_verb_with_working_links(client, demo):
    html = _render(client, verb="Identify")
    assert "Granary" in etree.tostring(html, encoding="unicode")
    assert any(h.startswith("?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:granary.test:") for h in _links(html))

    html = _render(client, verb="ListMetadataFormats")
    assert "?verb=ListRecords&metadataPrefix=mods" in _links(html)

    first_spec = etree.fromstring(client.get("/oai?verb=ListSets").data).find("oai:ListSets/oai:set/oai:setSpec", NS).text
    html = _render(client, verb="ListSets")
    link = f"?verb=ListRecords&metadataPrefix=oai_dc&set={first_spec}"
    assert link in _links(html)
    assert valid_response(client.get("/oai" + link).data).find("oai:ListRecords", NS) is not None

    html = _render(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert "?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:granary.test:110365" in _links(html) or \
        any("GetRecord" in h for h in _links(html))

    html = _render(client, verb="GetRecord", metadataPrefix="mods", identifier="oai:granary.test:110365")
    text = etree.tostring(html, encoding="unicode")
    assert "Handwritten letter from Gao Gang" in text and "records/110365" in _links(html)

    html = _render(client, verb="GetRecord", metadataPrefix="oai_dc", identifier="oai:granary.test:120856")
    assert "deleted" in etree.tostring(html, encoding="unicode")

    html = _render(client, verb="ListRecords", metadataPrefix="oai_dc", set="nope")
    assert "Error" in etree.tostring(html, encoding="unicode")


def test_xsl_next_page_link_follows_the_resumption_token(client, demo):
    root = etree.fromstring(client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc").data)
    token = root.find("oai:ListRecords/oai:resumptionToken", NS).text
    html = etree.XSLT(etree.parse(str(XSL)))(root).getroot()
    nxt = [a for a in html.iter("a") if a.get("rel") == "next"]
    assert nxt and nxt[0].get("href") == f"?verb=ListRecords&resumptionToken={token}"
    resp = client.get("/oai" + nxt[0].get("href"))
    page2 = valid_response(resp.data)
    assert page2.find("oai:ListRecords/oai:record", NS) is not None


def test_xsl_encodes_identifiers_in_links(client, settings, engine, registry):
    from tests.test_web_pages import write_mods
    write_mods(settings, engine, registry, "a&b+c=d", "<titleInfo><title>Odd</title></titleInfo>")
    html = _render(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    hrefs = _links(html)
    assert "?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:granary.test:a%26b%2Bc%3Dd" in hrefs
    assert "records/a%26b%2Bc%3Dd" in hrefs
    assert client.get("/records/a%26b%2Bc%3Dd").status_code == 200
    resp = client.get("/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:granary.test:a%26b%2Bc%3Dd")
    assert valid_response(resp.data).find("oai:GetRecord", NS) is not None


def test_request_url_and_stylesheet_follow_the_mount_point_as_flask_would_build_them(db_url, tmp_path, engine,
                                                                                    registry):
    """Without GRANARY_BASE_URL the <request> element and the stylesheet's href are built from the
    request; under a mount point (SCRIPT_NAME) they must be what Flask's own URL building gives."""
    from flask import request, url_for

    from repository.app import create_app
    from repository.config import Settings

    app = create_app(Settings.from_env({"GRANARY_DATABASE_URL": db_url, "GRANARY_SECRET_KEY": "k"}, tmp_path),
                     engine, registry)
    for root in ("", "/archive"):
        environ = {"SCRIPT_NAME": root, "HTTP_HOST": "repo.example.org:8080"}
        data = app.test_client().get("/oai?verb=Identify", environ_overrides=environ).data
        with app.test_request_context("/oai", environ_overrides=environ):
            base, xsl = request.base_url, url_for("static", filename="oai.xsl")
        assert base == f"http://repo.example.org:8080{root}/oai"
        assert f'href="{xsl}"'.encode() in data
        assert f">{base}</request>".encode() in data
