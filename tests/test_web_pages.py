"""The web pages through Flask's test client, on SQLite and PostgreSQL: every page and
status code, escaping of hostile metadata, security headers, JSON-LD, the tombstone."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from lxml import etree

from repository.demo.load import load_demo
from repository.ingest.prepare import prepare
from repository.store import writes
from repository.web.jsonld import script_json
from repository.web.record_view import record_view

ANCHOR = "110365"
ANCHOR_TITLE = "Handwritten letter from Gao Gang and Kim Il Sung to Stalin"
WITHDRAWN = "120856"
HTML = "text/html; charset=utf-8"
MODS = "http://www.loc.gov/mods/v3"


@pytest.fixture
def demo(settings, engine, registry):
    load_demo(settings, engine, registry)


def write_mods(settings, engine, registry, local_id: str, body: str, sets=frozenset()) -> None:
    xml = f'<mods xmlns="{MODS}" version="3.8">{body}</mods>'.encode()
    fmt = registry.format("mods")
    root = etree.fromstring(xml)
    fmt.assert_valid(root, local_id)
    writes.write_records(engine, 60, [prepare(registry, fmt, root, local_id, xml, frozenset(sets))])


class _Outline(HTMLParser):
    """Headings, landmarks, labels and form fields of a page, to check its structure."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.tags: list[str] = []
        self.label_for: set[str] = set()
        self.fields: list[dict] = []
        self.scripts: list[dict] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("id"):
            self.ids.append(a["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append(a)
        if tag == "script":
            self.scripts.append(a)


def outline(html: str) -> _Outline:
    p = _Outline()
    p.feed(html)
    return p


def assert_accessible_basics(html: str) -> None:
    o = outline(html)
    assert o.headings and o.headings[0] == 1 and o.headings.count(1) == 1, o.headings
    for prev, cur in zip(o.headings, o.headings[1:]):
        assert cur <= prev + 1, f"heading level jumps from h{prev} to h{cur}"
    for landmark in ("header", "nav", "main", "footer"):
        assert landmark in o.tags
    for f in o.fields:
        assert f.get("id") in o.label_for or f.get("aria-label"), f"form field without a label: {f}"
    assert len(o.ids) == len(set(o.ids)), "duplicate ids"
    assert all(s.get("type") == "application/ld+json" for s in o.scripts), "no script may run on a page"
    assert '<html lang="en">' in html


def assert_secure_headers(resp) -> None:
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]


def page(client, url: str, status: int = 200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.status_code, resp.data[:500])
    assert resp.content_type == HTML
    assert_secure_headers(resp)
    html = resp.get_data(as_text=True)
    assert_accessible_basics(html)
    return html


def test_home_shows_counts_latest_changes_and_how_to_harvest(client, demo):
    html = page(client, "/")
    assert "<dd>75</dd>" in html           # live records
    assert "<dd>17</dd>" in html           # sets
    assert "Latest changes" in html and "withdrawn" in html
    assert "http://granary.test/oai" in html
    for prefix in ("mods", "oai_dc"):
        assert f"<code>{prefix}</code>" in html
    assert "/oai?verb=ListSets" in html


def test_home_of_an_empty_repository(client):
    html = page(client, "/")
    assert "No records yet." in html and "This repository has no sets." in html


def test_sets_page_is_a_tree_with_counts(client, demo):
    html = page(client, "/sets")
    # korea:origins is nested inside korea's list item
    korea = html.index('href="/sets/korea"')
    origins = html.index('href="/sets/korea:origins"')
    assert korea < origins and html[korea:origins].count("<ul") == 1
    assert re.search(r'href="/sets/korea">Korean War</a>\s*<span class="count">\(\d+ records\)', html)


def test_set_page_pages_with_keyset_cursor(client, demo, engine):
    html = page(client, "/sets/korea")
    assert "Korean War Origins" in html  # a subset
    seen: list[str] = []
    url = "/sets/korea"
    while True:
        html = page(client, url)
        seen += re.findall(r'<a href="/records/([^"]+)">', html)
        m = re.search(r'<a rel="next" href="([^"]+)">', html)
        if not m:
            break
        url = m.group(1).replace("&amp;", "&")
        assert "before=" in url
    from sqlalchemy import text
    with engine.connect() as conn:
        expected = set(conn.execute(text(
            "SELECT r.local_id FROM records r JOIN record_sets s ON s.record_id = r.id "
            "WHERE s.spec = 'korea' AND NOT r.deleted")).scalars())
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_all_records_and_breadcrumbs(client, demo):
    html = page(client, "/records")
    assert html.count('class="record-item"') == 25
    html = page(client, "/sets/korea:armistice")
    assert '<a href="/sets/korea">Korean War</a>' in html


def test_bad_cursor_and_unknown_set(client, demo):
    page(client, "/records?before=nonsense", 400)
    page(client, "/sets/no-such-set", 404)


def test_record_page_of_the_anchor_record(client, demo):
    html = page(client, f"/records/{ANCHOR}")
    assert f"<h1 id=\"record-title\">{ANCHOR_TITLE}" in html
    assert "1951-06-14" in html
    assert "Kim Il Sung <span class=\"role\">— author</span>" in html
    assert "Stalin, Joseph, 1878-1953 <span class=\"role\">— addressee</span>" in html
    assert "Korean War, 1950-1953--Armistices" in html
    assert "APRF, f. 45, op. 1, d. 339, ll. 57-60" in html           # archival citation
    assert "non-commercial research" in html                           # rights
    assert "https://digitalarchive.wilsoncenter.org/document/110365" in html
    assert "<h2 id=\"info-heading\">Document information</h2>" in html and '<dl class="doc-info">' in html
    assert "oai:granary.test:110365" in html
    for prefix in ("mods", "oai_dc"):
        assert f'href="/metadata/{prefix}/{ANCHOR}"' in html
        assert (f"http://granary.test/oai?verb=GetRecord&amp;metadataPrefix={prefix}"
                f"&amp;identifier=oai%3Agranary.test%3A{ANCHOR}") in html


def test_record_page_json_ld(client, demo):
    html = page(client, f"/records/{ANCHOR}")
    m = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data = json.loads(m.group(1))
    assert data["@context"] == "https://schema.org"
    assert data["name"].startswith(ANCHOR_TITLE)
    assert data["dateCreated"] == "1951-06-14"
    assert {"@type": "Person", "name": "Mao Zedong"} in data["author"]
    assert "oai:granary.test:110365" in data["identifier"]


def test_pretty_printed_metadata_views(client, demo):
    html = page(client, f"/metadata/mods/{ANCHOR}")
    assert re.search(r"\n  &lt;(mods:)?titleInfo", html)   # indented, escaped
    html = page(client, f"/metadata/oai_dc/{ANCHOR}")
    assert "&lt;dc:title&gt;" in html
    page(client, f"/metadata/marcxml/{ANCHOR}", 404)
    page(client, "/metadata/mods/nope", 404)
    page(client, f"/metadata/mods/{WITHDRAWN}", 410)


def test_withdrawn_record_is_a_410_tombstone(client, demo):
    html = page(client, f"/records/{WITHDRAWN}", 410)
    assert "has been withdrawn" in html and f"oai:granary.test:{WITHDRAWN}" in html
    assert 'status="deleted"' in html


def test_unknown_record_is_404(client, demo):
    page(client, "/records/does-not-exist", 404)


def test_hostile_metadata_is_text(client, settings, engine, registry):
    evil = "<script>alert(1)</script>"
    write_mods(settings, engine, registry, "evil&1", f"<titleInfo><title>{evil.replace('<', '&lt;')}</title></titleInfo>"
               f"<name><namePart>&lt;img src=x onerror=alert(2)&gt;</namePart></name>"
               f"<abstract>&lt;/script&gt;&lt;script&gt;alert(3)&lt;/script&gt;</abstract>"
               f"<subject><topic>&quot;&gt;&lt;b&gt;bold</topic></subject>")
    resp = client.get("/records/evil&1")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    m = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert json.loads(m.group(1))["name"] == evil     # the JSON is intact, and ended where it should
    assert html.count("</script>") == 1
    assert_accessible_basics(html)
    for url, shown in (("/", "&lt;script&gt;alert(1)&lt;/script&gt;"), ("/records", "&lt;script&gt;alert(1)&lt;/script&gt;"),
                       ("/search?q=alert", "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;")):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body and shown in body, url


def test_script_json_escapes_html_breakers():
    out = str(script_json({"a": "</script><!-- & \u2028"}))
    assert "<" not in out and ">" not in out and "&" not in out
    assert json.loads(out) == {"a": "</script><!-- & \u2028"}


def test_dc_native_record_shows_from_its_mods(client, settings, engine, registry):
    dc = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
          'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>A Dublin Core telegram</dc:title>'
          '<dc:creator>Molotov, V. M.</dc:creator><dc:date>1949-03-02</dc:date>'
          '<dc:subject>Berlin blockade</dc:subject><dc:description>About the blockade.</dc:description>'
          '<dc:type>Text</dc:type><dc:language>rus</dc:language></oai_dc:dc>').encode()
    fmt = registry.format("oai_dc")
    root = etree.fromstring(dc)
    writes.write_records(engine, 60, [prepare(registry, fmt, root, "dc-1", dc, frozenset())])
    html = page(client, "/records/dc-1")
    assert "A Dublin Core telegram" in html and "Molotov, V. M." in html and "1949-03-02" in html
    assert "Berlin blockade" in html and "About the blockade." in html and "Russian" in html
    assert "(native)" in html and 'href="/metadata/oai_dc/dc-1"' in html


def test_local_ids_with_url_characters(client, settings, engine, registry):
    write_mods(settings, engine, registry, "a/b?c=d&e", "<titleInfo><title>Odd identifier</title></titleInfo>")
    html = page(client, "/records")
    m = re.search(r'<a href="(/records/a[^"]+)">Odd identifier', html)
    assert m, html
    html = page(client, m.group(1).replace("&amp;", "&"))
    assert "Odd identifier" in html


def test_record_view_is_pure_and_reads_dates_names_subjects():
    xml = (f'<mods xmlns="{MODS}"><titleInfo><nonSort>The </nonSort><title>Title</title><subTitle>sub</subTitle>'
           '</titleInfo><titleInfo type="translated"><title>Titre</title></titleInfo>'
           '<name type="corporate"><namePart>United States</namePart><namePart>Department of State</namePart>'
           '<role><roleTerm type="code">aut</roleTerm></role></name>'
           '<originInfo><dateIssued point="start">1961</dateIssued><dateIssued point="end">1962</dateIssued>'
           '</originInfo><subject><geographic>Cuba</geographic><topic>History</topic></subject>'
           '<language><languageTerm type="code">spa</languageTerm></language></mods>').encode()
    v = record_view(xml)
    assert v.title == "The Title : sub" and v.alternative_titles == ["Titre"]
    assert v.names[0].name == "United States. Department of State" and v.names[0].roles == ("aut",)
    assert v.dates == [("Issued", "1961–1962")] and v.year == 1961
    assert v.subjects == ["Cuba -- History"] and v.languages == ["Spanish"]


def test_oai_pages_keep_their_own_headers(client, demo):
    resp = client.get("/oai?verb=Identify")
    assert resp.content_type.startswith("text/xml")
    assert "Content-Security-Policy" not in resp.headers


def test_static_assets_are_served(client):
    for name, kind in (("granary.css", "text/css"), ("oai.xsl", "xsl"), ("favicon.svg", "image/svg+xml")):
        resp = client.get(f"/static/{name}")
        assert resp.status_code == 200 and kind in resp.content_type, (name, resp.content_type)
    css = client.get("/static/granary.css").get_data(as_text=True)
    assert "@import" not in css and "url(http" not in css     # nothing from elsewhere: works offline


def test_no_external_resources_in_templates():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "repository"
    for path in [*(root / "templates").glob("*.html"), *(root / "static").glob("*")]:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r'(?:src|href)="(https?:)?//', text):
            raise AssertionError(f"{path.name} loads something from another site: {text[m.start():m.start() + 80]}")
        assert "<script>" not in text and "onclick" not in text and "style=" not in text, path.name


def test_counts_are_cached_per_app(app, client, settings, engine, registry):
    app.config["GRANARY_WEB_COUNT_TTL"] = 3600
    assert "<dd>0</dd>" in page(client, "/")
    write_mods(settings, engine, registry, "x1", "<titleInfo><title>One</title></titleInfo>")
    assert "<dd>0</dd>" in page(client, "/")                  # counted a moment ago
    app.config["GRANARY_WEB_COUNT_TTL"] = 0
    html = page(client, "/")
    assert "<dd>1</dd>" in html and "One" in html
