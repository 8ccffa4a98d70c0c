"""Security headers on every response the app sends, its error pages and the API's included.

Added where the WSGI response starts, as one pass over its list of headers. As a Flask
after_request hook, setting them through werkzeug's Headers (each value checked, each
name compared with every header already there) was 9% of a GetRecord's instructions.
A header a view set itself is kept; the Content-Security-Policy goes only on HTML, the
one kind of response a browser runs as a page.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
_EVERY_RESPONSE = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
                   ("X-Frame-Options", "DENY"), ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
_LOWER = {name: name.lower() for name, _ in _EVERY_RESPONSE}


def with_security_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    present: set[str] = set()
    html = False
    for name, value in headers:
        lower = name.lower()
        present.add(lower)
        if lower == "content-type":
            html = value.split(";", 1)[0].strip().lower() == "text/html"
    added = [header for header in _EVERY_RESPONSE if _LOWER[header[0]] not in present]
    if html and "content-security-policy" not in present:
        added.append(("Content-Security-Policy", CSP))
    return headers + added


class SecurityHeaders:
    """WSGI middleware: `app.wsgi_app = SecurityHeaders(app.wsgi_app)`."""

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            return start_response(status, with_security_headers(headers), exc_info)
        return self.wsgi_app(environ, start)
