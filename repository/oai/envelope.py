"""The OAI-PMH response envelope and record headers, written as text.

Responses are streamed as a concatenation of stored record fragments between
pieces made here, so no response ever becomes a tree in memory. Everything
interpolated is escaped; arguments that XML cannot carry were refused earlier.
"""
from __future__ import annotations

from collections.abc import Iterable

from repository.oai.errors import Code

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"

_TEXT_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_ATTR_ESCAPES = (*_TEXT_ESCAPES, ('"', "&quot;"), ("\t", "&#9;"), ("\n", "&#10;"))


def _escape(value: str, escapes: tuple[tuple[str, str], ...]) -> str:
    # `in` and replace run in C; str.translate looks every character up in a dict,
    # which on a page of identifiers cost more than the rest of the header.
    for char, entity in escapes:  # "&" first, so no entity is escaped twice
        if char in value:
            value = value.replace(char, entity)
    return value


def text(value: str) -> str:
    return _escape(value, _TEXT_ESCAPES)


def attr(value: str) -> str:
    return _escape(value, _ATTR_ESCAPES)


def head(response_date: str, base_url: str, request_args: dict[str, str] | None, prolog: str = "") -> str:
    """The XML declaration, `prolog` (processing instructions), root element, responseDate
    and request elements.

    `request_args` is None when the request was a badVerb or badArgument: the
    spec then wants a bare <request> holding only the base URL.
    """
    echo = "".join(f' {k}="{attr(v)}"' for k, v in sorted((request_args or {}).items()))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}'
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{OAI_NS} {OAI_SCHEMA}">'
        f"<responseDate>{response_date}</responseDate>"
        f"<request{echo}>{text(base_url)}</request>"
    )


TAIL = "</OAI-PMH>\n"


def errors(errs: Iterable[tuple[Code, str]]) -> str:
    return "".join(f'<error code="{c.value}">{text(m)}</error>' for c, m in errs)


def header(identifier: str, datestamp: str, set_specs: str, deleted: bool) -> str:
    status = ' status="deleted"' if deleted else ""
    specs = "".join(f"<setSpec>{s}</setSpec>" for s in set_specs.split()) if set_specs else ""
    return (f"<header{status}><identifier>{text(identifier)}</identifier>"
            f"<datestamp>{datestamp}</datestamp>{specs}</header>")


def resumption_token(token: str | None, cursor: int, complete_size: int, expiration: str | None) -> str:
    """The resumptionToken element; an empty token marks the last page of a list."""
    exp = f' expirationDate="{expiration}"' if expiration and token else ""
    return (f'<resumptionToken completeListSize="{complete_size}" cursor="{cursor}"{exp}>'
            f"{text(token or '')}</resumptionToken>")
