"""Access and secrets: every write needs the right token; no secret ever leaves the server.

Every write route of the app (found from its URL map, so a new route is covered
the day it is added) refuses a request without a token and one whose scope is
too low, and writes nothing. The secret key, the database password and API
tokens appear in no response, no error page and no log line, whether the
request succeeds, fails, or meets a database that is down. HTML pages, error
pages included, carry the security headers; the debugger never listens beyond
loopback; serving with a generated secret on an exposed address warns.
"""
from __future__ import annotations

import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from repository import cli
from repository.api.tokens_store import create_token
from repository.app import create_app
from repository.commands.serving import is_loopback, serving_warnings
from repository.config import Settings
from repository.security_headers import CSP, with_security_headers
from tests.conftest import POSTGRES_URL, make_settings
from tests.fixtures import load_corpus
from tests.shared import CORPUS
from tests.torturekit import free_port, production_server

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# POST here is a form of reading (OAI-PMH allows POST; the workbench stores nothing): open to all.
READING_POSTS = {"/oai", "/workbench"}
SECRET = "s3cret-key-that-must-never-be-shown-7f2a"
PASSWORD = "db-pa55word-that-must-never-be-shown-91c4"
MODS_FILE = min(CORPUS.glob("mods/fsu-*.xml"))


def _write_routes(app) -> list[tuple[str, str]]:
    """(method, concrete URL) for every write route, with placeholder values for its arguments."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: f"x-{m.group(1)}", rule.rule)
            found.append((method, url))
    return found


def _dump(engine) -> dict[str, list[tuple]]:
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return {name: sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr)
                for name, t in tables.tables.items() if name != "alembic_version"}


def test_every_write_route_needs_a_token_of_the_right_scope(app, client, engine):
    routes = _write_routes(app)
    assert {m for m, _ in routes} >= {"POST", "PUT", "DELETE"} and len(routes) >= 5 + len(READING_POSTS)
    read = create_token(engine, "reader", "read")
    before = _dump(engine)
    for method, url in routes:
        if url in READING_POSTS:
            assert client.open(url, method=method, data={"verb": "Identify"}).status_code < 500
            continue
        body = {"data": MODS_FILE.read_bytes(), "content_type": "application/mods+xml"}
        anonymous = client.open(url, method=method, **body)
        assert anonymous.status_code == 401, (method, url, anonymous.status_code)
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer ")
        low = client.open(url, method=method, headers={"Authorization": f"Bearer {read}"}, **body)
        assert low.status_code == 403, (method, url, low.status_code)
        forged = client.open(url, method=method, headers={"Authorization": f"Bearer {read}0"}, **body)
        assert forged.status_code == 401, (method, url)
    assert _dump(engine) == before


# --- headers ----------------------------------------------------------------------------------

HTML_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")


@pytest.fixture
def failing_app(app):
    """The app with one route that fails the way a bug would, to see the 500 page."""
    def broken():
        raise RuntimeError(f"bug while holding {SECRET}")
    app.add_url_rule("/broken", view_func=broken)
    return app


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_html_page_and_error_page_has_the_security_headers(failing_app, caplog):
    client = failing_app.test_client()
    for url, status in [("/", 200), ("/search?q=x", 200), ("/workbench", 200), ("/records/nope", 404),
                        ("/no/such/page", 404), ("/broken", 500)]:
        resp = client.get(url)
        assert resp.status_code == status and resp.mimetype == "text/html", url
        for header in HTML_HEADERS:
            assert header in resp.headers, (url, header)
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert "<main" in resp.get_data(as_text=True), url  # the site's own page, not Werkzeug's
    wrong_method = client.delete("/search")
    assert wrong_method.status_code == 405 and "Allow" in wrong_method.headers
    page = client.get("/broken").get_data(as_text=True)
    assert SECRET not in page and "Traceback" not in page and "RuntimeError" not in page
    assert client.get("/oai?verb=Identify").headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/no/such").mimetype == "application/problem+json"


def test_security_headers_keep_a_views_own_and_put_the_csp_on_html_only():
    html = dict(with_security_headers([("Content-Type", "Text/HTML; charset=utf-8"), ("x-frame-options", "SAMEORIGIN")]))
    assert html["Content-Security-Policy"] == CSP and html["X-Content-Type-Options"] == "nosniff"
    assert html["x-frame-options"] == "SAMEORIGIN" and "X-Frame-Options" not in html
    xml = with_security_headers([("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", "10")])
    assert [name for name, _ in xml] == ["Content-Type", "Content-Length", "X-Content-Type-Options",
                                         "Referrer-Policy", "X-Frame-Options", "Permissions-Policy"]
    own = [("Content-Type", "text/html"), ("Content-Security-Policy", "default-src 'none'")]
    assert with_security_headers(own)[:2] == own and len(with_security_headers(own)) == 6


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_bug_under_the_api_is_a_bare_problem_and_logs_no_header(app, caplog):
    def broken():
        raise RuntimeError("bug")
    app.add_url_rule("/api/broken", view_func=broken, methods=["PUT"])
    with caplog.at_level(logging.ERROR):
        resp = app.test_client().put("/api/broken", headers={"Authorization": f"Bearer {SECRET}"})
    assert resp.status_code == 500 and resp.mimetype == "application/problem+json"
    assert resp.get_json()["detail"] == "the server failed to handle this request"
    assert "RuntimeError: bug" in caplog.text and "/api/broken" in caplog.text and SECRET not in caplog.text


def test_production_app_is_not_in_debug_mode(settings, engine):
    app = create_app(settings, engine)
    assert app.debug is False and app.testing is False
    for deployed in (Path("Dockerfile"), Path("docker-compose.yml"), Path("docker/entrypoint.sh")):
        text = (Path(__file__).parent.parent / deployed).read_text()
        assert "--debug" not in text and "FLASK_DEBUG" not in text, deployed


# --- a database that does not answer ----------------------------------------------------------

def _closed_port() -> int:
    return free_port()  # nothing listens once the probing socket closes


def test_a_database_that_does_not_answer_is_a_503_that_names_no_secret(tmp_path, caplog):
    url = f"postgresql+psycopg://granary:{PASSWORD}@127.0.0.1:{_closed_port()}/granary"
    app = create_app(Settings.from_env({"GRANARY_DATABASE_URL": url, "GRANARY_SECRET_KEY": SECRET}, tmp_path))
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        for path, mimetype in [("/oai?verb=ListRecords&metadataPrefix=oai_dc", "text/plain"),
                               ("/api/records", "application/problem+json"), ("/", "text/html")]:
            resp = client.get(path)
            assert resp.status_code == 503 and resp.mimetype == mimetype, (path, resp.status_code)
            assert int(resp.headers["Retry-After"]) > 0
            body = resp.get_data(as_text=True)
            assert "not answering" in body and PASSWORD not in body and SECRET not in body
    assert "database unavailable" in caplog.text
    assert PASSWORD not in caplog.text and SECRET not in caplog.text


def test_cli_errors_name_no_password(tmp_path):
    url = f"postgresql+psycopg://granary:{PASSWORD}@127.0.0.1:{_closed_port()}/granary"
    result = CliRunner().invoke(cli.main, ["stats"], env={"GRANARY_DATABASE_URL": url, "GRANARY_SECRET_KEY": SECRET})
    assert result.exit_code != 0 and "cannot open the database" in result.output
    assert PASSWORD not in result.output and SECRET not in result.output


# --- the real server: nothing secret in any response or log line ------------------------------

def _request(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None) -> bytes:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return bytes(str(resp.headers), "utf-8") + resp.read()
    except urllib.error.HTTPError as err:
        return bytes(str(err.headers), "utf-8") + err.read()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_served_responses_and_logs_never_show_secret_password_or_token(db_url, tmp_path, engine, registry):
    # Trust authentication ignores the password, so the server runs with one in its URL.
    url = db_url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    assert PASSWORD in url and url.startswith(POSTGRES_URL.split("@")[0])
    settings = make_settings(url, tmp_path, GRANARY_SECRET_KEY=SECRET, GRANARY_PAGE_SIZE="5")
    load_corpus(settings, engine, registry)
    token = create_token(engine, "writer", "write")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANARY_")}
    env.update(GRANARY_DATABASE_URL=url, GRANARY_SECRET_KEY=SECRET, GRANARY_PAGE_SIZE="5", HOME=str(tmp_path))
    log = tmp_path / "serve.log"
    with production_server(env, 1, log, tmp_path) as base:
        auth = {"Authorization": f"Bearer {token}"}
        seen = [_request(f"{base}{path}") for path in (
            "/oai?verb=Identify", "/oai?verb=ListRecords&metadataPrefix=oai_dc",
            "/oai?verb=ListRecords&resumptionToken=forged", "/oai?verb=Nope&x=1", "/", "/search?q=letter",
            "/api/records?limit=3", "/api/openapi.json", "/api/nothing", "/no/such/page", "/records/nope")]
        first_page = seen[1].decode()
        resumption = re.search(r"<resumptionToken[^>]*>([^<]+)<", first_page).group(1)
        seen.append(_request(f"{base}/oai?verb=ListRecords&resumptionToken={resumption}"))
        mods = MODS_FILE.read_bytes()
        seen += [
            _request(f"{base}/api/records/sec-1", "PUT", mods, {**auth, "Content-Type": "application/mods+xml"}),
            _request(f"{base}/api/records/sec-1", "PUT", b"<mods", {**auth, "Content-Type": "application/mods+xml"}),
            _request(f"{base}/api/records/sec-2", "PUT", mods, {"Authorization": f"Bearer {token}x",
                                                                "Content-Type": "application/mods+xml"}),
            _request(f"{base}/api/records/sec-1", "DELETE", headers=auth),
        ]
        assert b"201 Created" in seen[-4] or b"Status: 201" in seen[-4] or b"sec-1" in seen[-4]
    served = b"\n".join(seen).decode("utf-8", "replace")
    logged = log.read_text(errors="replace")
    assert "GET /oai?verb=Identify" in logged  # the access log was written, and read here
    for secret in (SECRET, PASSWORD, token):
        assert secret not in served and secret not in logged


# --- serving warnings -------------------------------------------------------------------------

def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.5", "granary.example.org"]))


def test_serving_warnings(tmp_path):
    generated = Settings.from_env({}, tmp_path)
    configured = Settings.from_env({"GRANARY_SECRET_KEY": SECRET}, tmp_path)
    assert generated.secret_is_generated and not configured.secret_is_generated
    [warning] = serving_warnings(generated, "0.0.0.0", 1)
    assert warning.startswith("warning:") and "GRANARY_SECRET_KEY" in warning
    assert serving_warnings(generated, "127.0.0.1", 1) == []
    assert serving_warnings(generated, "127.0.0.1", 4)[0].startswith("note:")
    assert serving_warnings(configured, "0.0.0.0", 4) == []
    assert serving_warnings(configured, "127.0.0.1", 1, debug=True) == []
    with pytest.raises(click.UsageError, match="loopback"):
        serving_warnings(configured, "0.0.0.0", 1, debug=True)


def test_serve_refuses_the_debugger_on_an_exposed_address(db_url, tmp_path, engine):
    env = {"GRANARY_DATABASE_URL": db_url, "GRANARY_SECRET_KEY": SECRET}
    result = CliRunner().invoke(cli.main, ["serve", "--debug", "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 2 and "loopback" in result.output


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_dropped_database_connection_costs_at_most_one_503(app, client, engine):
    """Pooled connections are not pinged before use: when the server drops them (a restart),
    the request that meets one answers 503 with Retry-After, and the next one reconnects."""
    assert client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").status_code == 200
    with engine.connect() as conn:  # the pooled connection the request used: the only one
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    admin = sa.create_engine(POSTGRES_URL)
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()
    statuses = [client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").status_code for _ in range(3)]
    assert statuses[0] in (200, 503) and statuses[1:] == [200, 200], statuses
