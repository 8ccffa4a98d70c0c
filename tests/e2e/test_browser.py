"""The web pages in a real browser: Debian's chromium, headless, driven by Playwright.

CI installs /usr/bin/chromium with apt-get (.ci/run); these tests do not skip
without it, they fail and say so. The demo collection is loaded into a fresh
SQLite store and served for real on a free port. Each test saves a screenshot
into docs/screenshots/ for the README.
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from repository.app import create_app
from repository.db.engine import make_engine
from repository.db.migrate import upgrade
from repository.demo.load import DEMO_DIR, load_demo
from repository.store import writes
from tests.conftest import make_settings

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ANCHOR = "110365"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e")
    collection = json.loads((DEMO_DIR / "collection.json").read_text(encoding="utf-8"))["repository"]
    settings = make_settings(f"sqlite:///{workdir / 'granary.db'}", workdir, GRANARY_BASE_URL="",
                             GRANARY_PAGE_SIZE="10", GRANARY_REPOSITORY_NAME=collection["name"])
    engine = make_engine(settings.database_url)
    upgrade(engine)
    writes.record_creation_time(engine)
    app = create_app(settings, engine)
    app.config["GRANARY_REPOSITORY_DESCRIPTION"] = collection["description"]
    load_demo(settings, engine, app.extensions["granary"].registry)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`); "
                    ".ci/run does this before the tests", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.problems = problems  # type: ignore[attr-defined]
    yield pg
    context.close()


def shot(pg, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def no_csp_violations(pg) -> None:
    bad = [p for p in pg.problems if "Content Security Policy" in p or "Refused" in p]
    assert not bad, bad


def test_home_page_and_keyboard(page, base_url):
    resp = page.goto(base_url + "/")
    assert resp.status == 200
    assert "Cold War" in page.locator("h1").inner_text()
    assert page.locator(".stats dd").first.inner_text() == "75"
    shot(page, "home", full_page=True)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    no_csp_violations(page)


def test_record_page_of_the_anchor(page, base_url):
    resp = page.goto(f"{base_url}/records/{ANCHOR}")
    assert resp.status == 200
    assert page.locator("h1").inner_text().startswith("Handwritten letter from Gao Gang and Kim Il Sung to Stalin")
    info = page.locator("dl.doc-info")
    assert "Mao Zedong" in info.inner_text() and "APRF, f. 45" in info.inner_text()
    data = json.loads(page.locator('script[type="application/ld+json"]').text_content())
    assert data["dateCreated"] == "1951-06-14"
    assert resp.headers["content-security-policy"].startswith("default-src 'self'")
    no_csp_violations(page)
    shot(page, "record-110365", full_page=True)
    # the pretty-printed MODS and the OAI GetRecord link work from the page
    page.get_by_role("link", name=re.compile(r"^View mods XML")).click()
    assert "mods" in page.locator("h1").inner_text() and "titleInfo" in page.locator("pre").inner_text()
    page.go_back()
    page.get_by_role("link", name=re.compile(r"^OAI-PMH GetRecord in oai_dc")).click()
    page.wait_for_selector("h1")
    assert "GetRecord" in page.locator("h1").inner_text()


def test_record_page_fits_a_phone(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 800}, device_scale_factor=2)
    pg = context.new_page()
    pg.goto(f"{base_url}/records/{ANCHOR}")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375
    shot(pg, "record-110365-phone")
    context.close()


def test_browse_a_set(page, base_url):
    page.goto(base_url + "/")
    page.get_by_role("link", name="Browse", exact=True).click()
    assert page.locator("h1").inner_text() == "Browse by set"
    page.get_by_role("link", name="Korean War", exact=True).click()
    assert page.locator("h1").inner_text() == "Korean War"
    assert page.locator(".record-item").count() > 0
    assert page.get_by_role("link", name="Korean War Origins, 1945-1950").count() == 1
    shot(page, "set-browse", full_page=True)
    first = page.locator(".record-item a").first.inner_text()
    page.locator(".record-item a").first.click()
    assert page.locator("h1").inner_text() == first


def test_search(page, base_url):
    page.goto(base_url + "/")
    page.get_by_label("Search titles, names, subjects and descriptions").fill("Stalin Korea")
    page.get_by_label("Search titles, names, subjects and descriptions").press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    heading = page.locator("#results-heading").inner_text()
    assert re.match(r"\d+ records? found", heading), heading
    page.get_by_label("Set").select_option("korea:armistice")
    page.get_by_label("From").fill("1951")
    page.get_by_role("button", name="Search").last.click()
    page.wait_for_url(re.compile(r"set=korea%3Aarmistice|set=korea:armistice"))
    titles = page.locator(".record-item a").all_inner_texts()
    assert any(t.startswith("Handwritten letter from Gao Gang") for t in titles), titles
    assert page.locator("mark").count() > 0
    no_csp_violations(page)
    shot(page, "search", full_page=True)


def test_workbench(page, base_url):
    page.goto(base_url + "/workbench")
    page.get_by_label("Record XML").fill((DEMO_DIR / "records" / f"{ANCHOR}.xml").read_text(encoding="utf-8"))
    page.get_by_label("Target format").select_option("oai_dc")
    page.get_by_role("button", name="Crosswalk").click()
    page.wait_for_selector(".workbench-result")
    assert "the output is valid oai_dc" in page.locator(".status").inner_text()
    assert page.locator("table.report tbody tr").count() > 10
    assert "dc:title" in page.locator("ol.code").nth(1).inner_text()
    no_csp_violations(page)
    page.set_viewport_size({"width": 1280, "height": 1300})
    page.locator("#result-heading").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, document.querySelector('#result-heading').getBoundingClientRect().top - 16)")
    shot(page, "workbench")
    # an invalid source: the error names its line, and the line link jumps to it
    page.get_by_label("Record XML").fill('<mods xmlns="http://www.loc.gov/mods/v3">\n<bogus/>\n</mods>')
    page.get_by_role("button", name="Crosswalk").click()
    page.get_by_role("link", name="Source line 2").click()
    assert page.evaluate("location.hash") == "#src-L2"


def test_oai_list_records_renders_and_pages(page, base_url):
    resp = page.goto(base_url + "/oai?verb=ListRecords&metadataPrefix=oai_dc")
    assert resp.headers["content-type"].startswith("text/xml")
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == "OAI-PMH ListRecords"
    assert page.locator("article.oai-record").count() == 10
    first_page_ids = page.locator("a.record-link").all_inner_texts()
    # Chromium 155+ overlays a notice that XSLT is being phased out; keep it out of the README's picture.
    page.evaluate("document.querySelectorAll('xslt-warning-banner').forEach(b => b.remove())")
    shot(page, "oai-listrecords")
    page.locator("a.next-page").first.click()
    page.wait_for_url(re.compile(r"resumptionToken="))
    page.wait_for_selector("article.oai-record")
    second_page_ids = page.locator("a.record-link").all_inner_texts()
    assert second_page_ids and not set(first_page_ids) & set(second_page_ids)
    # a record link opens GetRecord, and its set links open a set's list
    page.locator("a.record-link").first.click()
    page.wait_for_url(re.compile(r"verb=GetRecord"))
    assert page.locator("h1").inner_text() == "OAI-PMH GetRecord"
    page.get_by_role("link", name="Record page").click()
    assert page.locator("h1#record-title").count() == 1
