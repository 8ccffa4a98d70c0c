"""Errors as RFC 9457 problem details (`application/problem+json`).

Every refusal of the API is one of these: `type` names the kind of problem (a
URN listed in docs/api.md), `title` is the same for every occurrence of that
kind, `detail` says what happened this time. Extension members point at the
cause: `field` (a JSON member, query parameter or header), `record` (the local
identifier), `line` (in an XML body) and `errors` (every schema violation, each
with line, path and message).
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from flask import Response

from metadata.errors import ValidationIssue

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:granary:problem:"

# slug -> title; docs/api.md lists the same table.
TITLES = {
    "unauthorized": "Authentication required",
    "forbidden": "Insufficient scope",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "invalid-parameter": "Invalid parameter",
    "malformed-body": "Malformed request body",
    "unsupported-media-type": "Unsupported media type",
    "not-acceptable": "Not acceptable",
    "too-large": "Request body too large",
    "invalid-record": "Record is not valid against its schema",
    "invalid-field": "Invalid field",
    "unknown-set": "Unknown set",
    "conflict": "Conflict",
    "precondition-failed": "Precondition failed",
    "gone": "Record withdrawn",
    "crosswalk-failed": "Crosswalk produced invalid output",
    "unavailable": "Service unavailable",
    "http-error": "HTTP error",
}


class Problem(Exception):
    """Raise anywhere under /api; the blueprint turns it into a problem response."""

    def __init__(self, status: int, kind: str, detail: str, *, field: str | None = None,
                 record: str | None = None, line: int | None = None, errors: Iterable[dict] | None = None,
                 headers: dict[str, str] | None = None, **extra) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.members = {k: v for k, v in (("field", field), ("record", record), ("line", line)) if v is not None}
        if errors is not None:
            self.members["errors"] = list(errors)
        self.members.update(extra)
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict:
        doc = {"type": TYPE_PREFIX + self.kind, "title": TITLES.get(self.kind, TITLES["http-error"]),
               "status": self.status, "detail": self.detail}
        if instance:
            doc["instance"] = instance
        doc.update(self.members)
        return doc

    def response(self, instance: str | None = None) -> Response:
        resp = Response(json.dumps(self.body(instance), ensure_ascii=False), status=self.status,
                        mimetype=MEDIA_TYPE)
        for k, v in self.headers.items():
            resp.headers[k] = v
        return resp


def issue_dicts(issues: Iterable[ValidationIssue]) -> list[dict]:
    return [{"line": i.line, "path": i.path, "message": i.message} for i in issues]


# HTTP errors raised by Flask/Werkzeug (routing, body size) as problems.
_HTTP_KINDS = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
               406: "not-acceptable", 413: "too-large", 415: "unsupported-media-type"}


def from_http_status(status: int, description: str) -> Problem:
    return Problem(status, _HTTP_KINDS.get(status, "http-error"), description)
