"""Bearer tokens: reads open, writes by scope, tokens stored hashed, revocation at once.

Also `granary token create|list|revoke` as an administrator runs it.
"""
from __future__ import annotations

import hashlib
import os
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from repository import cli
from repository.api.tokens_store import (
    PREFIX,
    TokenError,
    create_token,
    revoke_token,
    verify_token,
)
from repository.db.tables import api_tokens
from tests.shared import CORPUS

MODS_FILE = min(CORPUS.glob("mods/fsu-*.xml"))
MODS = {"Content-Type": "application/mods+xml"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(engine) -> dict[str, str]:
    return {scope: create_token(engine, f"{scope}-token", scope) for scope in ("read", "write", "admin")}


def put(client, headers):
    return client.put("/api/records/r1", data=MODS_FILE.read_bytes(), headers={**MODS, **headers})


def test_writes_without_a_token_are_401_with_a_challenge(client, engine):
    resp = put(client, {})
    assert resp.status_code == 401 and resp.mimetype == "application/problem+json"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
    assert resp.get_json()["field"] == "Authorization"
    assert client.get("/api/records/r1").status_code == 404  # nothing was written
    assert put(client, {"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401
    assert put(client, {"Authorization": "Bearer "}).status_code == 401


def test_scopes_are_ordered(client, tokens):
    denied = put(client, bearer(tokens["read"]))
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
    assert "read-token" in denied.get_json()["detail"]
    assert put(client, bearer(tokens["write"])).status_code == 201
    assert put(client, bearer(tokens["admin"])).status_code == 200  # admin includes write
    new_set = {"spec": "maps", "name": "Maps"}
    assert client.post("/api/sets", json=new_set, headers=bearer(tokens["write"])).status_code == 403
    assert client.post("/api/sets", json=new_set, headers=bearer(tokens["admin"])).status_code == 201
    assert client.delete("/api/records/r1", headers=bearer(tokens["read"])).status_code == 403


def test_unknown_and_revoked_tokens_are_401(client, engine, tokens):
    assert put(client, bearer(PREFIX + "x" * 43)).status_code == 401
    assert put(client, bearer(tokens["write"] + "x")).status_code == 401
    assert put(client, bearer(tokens["write"])).status_code == 201
    assert revoke_token(engine, "write-token") is True
    resp = put(client, bearer(tokens["write"]))
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert revoke_token(engine, "write-token") is False


def test_reads_need_no_token(client, tokens):
    put(client, bearer(tokens["write"]))
    for url in ("/api/records", "/api/records/r1", "/api/records/r1?format=oai_dc", "/api/sets",
                "/api/openapi.json", "/oai?verb=Identify"):
        assert client.get(url).status_code == 200, url


def test_only_a_hash_of_each_token_is_stored(engine, tokens):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(api_tokens)).all()
    stored = " ".join(str(v) for r in rows for v in r)
    for token in tokens.values():
        assert token.startswith(PREFIX) and len(token) > 40
        assert token not in stored and token[len(PREFIX):] not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert verify_token(engine, tokens["admin"]).scope == "admin"


def test_token_names_are_unique_and_scopes_known(engine, tokens):
    with pytest.raises(TokenError):
        create_token(engine, "write-token", "write")
    with pytest.raises(TokenError):
        create_token(engine, "other", "superuser")
    with pytest.raises(TokenError):
        revoke_token(engine, "never-issued")


# ---------------------------------------------------------------- the CLI

@pytest.fixture
def granary(db_url, engine, monkeypatch):
    """`granary ARGS` configured by environment, as in a shell."""
    created = []
    real = cli.create_app

    def tracking(*a, **kw):
        app = real(*a, **kw)
        created.append(app)
        return app

    monkeypatch.setattr(cli, "create_app", tracking)
    env = {k: None for k in os.environ if k.startswith("GRANARY_")}
    env.update({"GRANARY_DATABASE_URL": db_url, "GRANARY_SECRET_KEY": "cli-test-secret",
                "GRANARY_REPOSITORY_IDENTIFIER": "granary.test"})

    def run(*args: str):
        result = CliRunner().invoke(cli.main, list(args), env=env)
        while created:
            created.pop().extensions["granary"].engine.dispose()
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result

    return run


def test_token_cli_creates_lists_and_revokes(granary, client, engine):
    made = granary("token", "create", "--name", "catalogue-sync", "--scope", "write")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert re.fullmatch(re.escape(PREFIX) + r"[A-Za-z0-9_-]{43}", token)
    assert put(client, bearer(token)).status_code == 201

    listed = granary("token", "list")
    assert listed.exit_code == 0
    assert re.search(r"^catalogue-sync\twrite\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\tactive$", listed.stdout, re.MULTILINE)
    assert token not in listed.output

    dup = granary("token", "create", "--name", "catalogue-sync")
    assert dup.exit_code == 1 and "already exists" in dup.output
    assert granary("token", "create", "--name", "x", "--scope", "root").exit_code == 2

    revoked = granary("token", "revoke", "catalogue-sync")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "\trevoked" in granary("token", "list").stdout
    assert put(client, bearer(token)).status_code == 401
    assert granary("token", "revoke", "nobody").exit_code == 1
