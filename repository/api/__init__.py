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


def _is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


@blueprint.errorhandler(Problem)
def _problem(exc: Problem):
    return exc.response(request.path)


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    problem = from_http_status(exc.code or 500, exc.description or exc.name)
    resp = problem.response(request.path)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        resp.headers["Allow"] = ", ".join(exc.valid_methods)
    return resp


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception):
    # The method and path only: never headers, which may carry a token.
    log.exception("API request failed: %s %s", request.method, request.path)
    return Problem(500, "http-error", "the server failed to handle this request").response(request.path)


# Routing errors (no such URL, wrong method) happen before a blueprint is chosen, so
# they reach app-wide handlers; these answer with a problem under /api only.
@blueprint.app_errorhandler(404)
@blueprint.app_errorhandler(405)
def _routing_error(exc: HTTPException):
    if not _is_api_request():
        return exc
    return _http_error(exc)


from repository.api import openapi, records, sets  # noqa: F401  (their routes join the blueprint)
