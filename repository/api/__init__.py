"""The REST API under /api: records and sets as JSON, documented by /api/openapi.json.

Reads are open (the data is public, as on /oai); writes need a bearer token
(`granary token create`). Every refusal is an RFC 9457 problem document.
"""
from __future__ import annotations

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException

from repository.api.problems import Problem, from_http_status

blueprint = Blueprint("api", __name__, url_prefix="/api")


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


@blueprint.errorhandler(Problem)
def _problem(exc: Problem):
    return exc.response(request.path)


@blueprint.errorhandler(HTTPException)
def http_problem(exc: HTTPException):
    """Any HTTP error as a problem document; also used app-wide for routing errors under /api.
    A bug (500) says nothing of itself: Flask logs its traceback with the method and path only,
    never the headers, which may carry a token. A database that is down is a 503 from
    repository.errors, as everywhere."""
    code = exc.code or 500
    detail = "the server failed to handle this request" if code >= 500 else exc.description or exc.name
    resp = from_http_status(code, detail).response(request.path)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        resp.headers["Allow"] = ", ".join(exc.valid_methods)
    return resp


from repository.api import openapi, records, sets  # noqa: F401  (their routes join the blueprint)
