"""Stateless resumption tokens: the keyset cursor of a list, signed so it cannot be forged.

A token holds everything needed to continue its list (the query, the (stamp,
id) after which the next page starts, the watermark the list is read below, the
cursor and completeListSize) and an expiry. It is HMAC-signed with the
repository's secret, so it works on any worker and after a restart, and a
forged, truncated or foreign token, or one replayed with another verb, is
rejected as badResumptionToken.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from repository.oai.errors import Code, OAIError

_VERSION = 1


@dataclass(frozen=True)
class TokenState:
    verb: str
    prefix: str | None
    set_spec: str | None
    from_us: int | None
    until_us: int | None
    after: tuple[int, int] | tuple[str]  # (stamp, id) for record lists; (setSpec,) for ListSets
    cursor: int
    complete_size: int
    expires: int  # Unix seconds
    # The watermark of the previous page (record lists). None in tokens issued before it was
    # carried: they stay valid, and their next page reads the watermark afresh.
    upper_us: int | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """The bytes of `text` as `_b64` writes them, and only so: the lenient decoder would also
    take other spellings of the same bytes (unused low bits of the last character set, or
    characters outside the alphabet), so one issued token would have several valid forms."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical base64url spelling")
    return data


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:20]


def encode(state: TokenState, key: bytes) -> str:
    payload = json.dumps([_VERSION, state.verb, state.prefix, state.set_spec, state.from_us, state.until_us,
                          list(state.after), state.cursor, state.complete_size, state.expires, state.upper_us],
                         separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_sign(key, payload))}"


def decode(token: str, key: bytes, verb: str, now_s: int) -> TokenState:
    """The state of a token issued by this repository for `verb`, or badResumptionToken."""
    bad = OAIError(Code.BAD_RESUMPTION_TOKEN, "the resumptionToken is invalid or was not issued by this repository")
    try:
        body, sig = token.split(".")
        payload = _unb64(body)
        valid = hmac.compare_digest(_sign(key, payload), _unb64(sig))
    except (ValueError, TypeError):
        raise bad from None
    if not valid:
        raise bad
    try:
        fields = json.loads(payload)
        if len(fields) == 10:  # issued before the watermark was carried
            fields.append(None)
        version, t_verb, prefix, set_spec, from_us, until_us, after, cursor, size, expires, upper = fields
    except (ValueError, TypeError):
        raise bad from None
    if version != _VERSION:
        raise bad
    if t_verb != verb:
        raise OAIError(Code.BAD_RESUMPTION_TOKEN, f"the resumptionToken belongs to {t_verb}, not {verb}")
    if expires < now_s:
        raise OAIError(Code.BAD_RESUMPTION_TOKEN, "the resumptionToken has expired; restart the list")
    return TokenState(t_verb, prefix, set_spec, from_us, until_us, tuple(after), cursor, size, expires, upper)
