"""API bearer tokens in the `api_tokens` table: only a SHA-256 of each token is kept.

A token is shown once, when it is created; afterwards nobody (not even an
administrator reading the database) can recover it, only revoke it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from repository.db.engine import db_now_us
from repository.db.tables import api_tokens

SCOPES = ("read", "write", "admin")  # each scope includes the ones before it
PREFIX = "gra_"                       # recognisable in logs, config files and secret scanners


class TokenError(Exception):
    """A token command that cannot be carried out; nothing was changed."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    scope: str
    created_us: int
    revoked: bool


def scope_allows(granted: str, needed: str) -> bool:
    return SCOPES.index(granted) >= SCOPES.index(needed)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def create_token(engine: Engine, name: str, scope: str) -> str:
    """A new token named `name`; returns the token itself, which is not stored."""
    if scope not in SCOPES:
        raise TokenError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    name = name.strip()
    if not name or len(name) > 255:
        raise TokenError("a token needs a name of 1 to 255 characters")
    token = generate_token()
    try:
        with engine.begin() as conn:
            if conn.execute(select(api_tokens.c.id).where(api_tokens.c.name == name)).first() is not None:
                raise TokenError(f"a token named {name!r} already exists; revoke it or choose another name")
            conn.execute(insert(api_tokens).values(name=name, scope=scope, token_hash=hash_token(token),
                                                   created_us=db_now_us(conn), revoked=False))
    except IntegrityError:  # a concurrent create of the same name
        raise TokenError(f"a token named {name!r} already exists; revoke it or choose another name") from None
    return token


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_tokens.c.name, api_tokens.c.scope, api_tokens.c.created_us,
                                   api_tokens.c.revoked).order_by(api_tokens.c.name)).all()
    return [TokenInfo(r.name, r.scope, int(r.created_us), bool(r.revoked)) for r in rows]


def revoke_token(engine: Engine, name: str) -> bool:
    """Revoke the token named `name`; False if it already was. Revoked names stay taken,
    so `token list` keeps a record of every credential ever issued."""
    with engine.begin() as conn:
        row = conn.execute(select(api_tokens.c.id, api_tokens.c.revoked).where(api_tokens.c.name == name)).first()
        if row is None:
            raise TokenError(f"no token named {name!r}")
        if row.revoked:
            return False
        conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(revoked=True))
        return True


def verify_token(engine: Engine, token: str) -> TokenInfo | None:
    """The live token `token` is, or None. Looked up by its hash (the database never
    compares secrets), then compared in constant time."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    with engine.connect() as conn:
        row = conn.execute(select(api_tokens.c.name, api_tokens.c.scope, api_tokens.c.created_us,
                                  api_tokens.c.revoked, api_tokens.c.token_hash)
                           .where(api_tokens.c.token_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked or row.scope not in SCOPES:
        return None
    return TokenInfo(row.name, row.scope, int(row.created_us), bool(row.revoked))
