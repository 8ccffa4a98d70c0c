"""Bearer-token authentication for API writes.

Reads (GET) are open, like the OAI-PMH endpoint: the data is public. Writes
need `Authorization: Bearer <token>` with enough scope: `write` for records,
`admin` for sets. Scopes are ordered read < write < admin; a token's scope
includes the lower ones. No token -> 401; an unknown or revoked token -> 401;
a valid token with too little scope -> 403. Tokens are never logged or echoed.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import current_app, g, request

from repository.api.problems import Problem
from repository.api.tokens_store import (
    PREFIX,
    SCOPES,
    TokenInfo,
    generate_token,
    hash_token,
    scope_allows,
    verify_token,
)

__all__ = ["PREFIX", "SCOPES", "current_token", "generate_token", "hash_token", "requires"]

F = TypeVar("F", bound=Callable)
REALM = "granary"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _challenge(error: str | None = None, scope: str | None = None) -> dict[str, str]:
    parts = [f'Bearer realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return {"WWW-Authenticate": ", ".join(parts)}


def authenticate(needed: str) -> TokenInfo:
    """The request's token if it grants `needed`; else raise the 401/403 problem."""
    token = _bearer()
    if token is None:
        raise Problem(401, "unauthorized", f"this request needs a bearer token with scope {needed!r} "
                      "(Authorization: Bearer <token>; create one with `granary token create`)",
                      field="Authorization", headers=_challenge(scope=needed))
    info = verify_token(current_app.extensions["granary"].engine, token)
    if info is None:
        raise Problem(401, "unauthorized", "the bearer token is unknown or has been revoked",
                      field="Authorization", headers=_challenge("invalid_token"))
    if not scope_allows(info.scope, needed):
        raise Problem(403, "forbidden", f"token {info.name!r} has scope {info.scope!r}; this request needs "
                      f"{needed!r}", field="Authorization", headers=_challenge("insufficient_scope", needed))
    return info


def requires(scope: str) -> Callable[[F], F]:
    """Decorate a view so it runs only for a token granting `scope`."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.api_token = authenticate(scope)
            return view(*args, **kwargs)

        wrapper.required_scope = scope  # read by the OpenAPI test
        return wrapper  # type: ignore[return-value]

    return decorate


def current_token() -> TokenInfo | None:
    return g.get("api_token")
