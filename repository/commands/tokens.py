"""`granary token create|list|revoke`: bearer tokens for the REST API's writes.

A token is printed once, when it is created, and stored only as a SHA-256
hash: lose it and you revoke it and create another. Scopes: read < write <
admin (records need write, sets admin; reads need no token).
"""
from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from repository.api.tokens_store import (
    SCOPES,
    TokenError,
    create_token,
    list_tokens,
    revoke_token,
)
from repository.commands.common import require_schema


@click.group("token", cls=AppGroup)
def token_group() -> None:
    """Bearer tokens for the REST API (/api)."""


@token_group.command("create")
@click.option("--name", required=True, help="Who or what uses the token (unique), e.g. catalogue-sync.")
@click.option("--scope", type=click.Choice(SCOPES), default="write", show_default=True,
              help="write: records; admin: records and sets; read: nothing more than anonymous reads yet.")
def create_command(name: str, scope: str) -> None:
    """Create a token and print it once; only its hash is kept."""
    st = require_schema()
    try:
        token = create_token(st.engine, name, scope)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created token {name.strip()!r} with scope {scope}; it is shown only now:", err=True)
    click.echo(token)


@token_group.command("list")
def list_command() -> None:
    """Name, scope, creation time and state of every token (never the token)."""
    st = require_schema()
    rows = list_tokens(st.engine)
    for t in rows:
        created = datetime.fromtimestamp(t.created_us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"{t.name}\t{t.scope}\t{created}\t{'revoked' if t.revoked else 'active'}")
    if not rows:
        click.echo("no tokens")


@token_group.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Revoke a token at once; requests carrying it get 401 from now on."""
    st = require_schema()
    try:
        changed = revoke_token(st.engine, name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked token {name!r}" if changed else f"token {name!r} was already revoked")
