"""The REST API under /api: records and sets as JSON, documented by /api/openapi.json.

Reads are open (the data is public, as on /oai); writes need a bearer token
(`granary token create`). Every refusal is an RFC 9457 problem document.
"""
from __future__ import annotations

import logging

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException

from repository.api.problems import Problem, from_http_status

blueprint = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


@blueprint.errorhandler(Problem)
def _problem(exc: Problem):
    return exc.response(request.path)


@blueprint.errorhandler(HTTPException)
def http_problem(exc: HTTPException):
    """Any HTTP error as a problem document; also used app-wide for routing errors under /api."""
    problem = from_http_status(exc.code or 500, exc.description or exc.name)
    resp = problem.response(request.path)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        resp.headers["Allow"] = ", ".join(exc.valid_methods)
    return resp


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception):
    # Flask asks this blueprint's handlers before the app's, so the database being
    # down is told apart here (imported late: repository.errors imports this package).
    from repository.errors import UNAVAILABLE, database_unavailable
    if isinstance(exc, UNAVAILABLE):
        return database_unavailable(exc)
    # The method and path only: never headers, which may carry a token.
    log.exception("API request failed: %s %s", request.method, request.path)
    return Problem(500, "http-error", "the server failed to handle this request").response(request.path)


from repository.api import openapi, records, sets  # noqa: F401  (their routes join the blueprint)
