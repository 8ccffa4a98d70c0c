"""App-wide answers to failures no view handled: unknown URLs, wrong methods, an
unreachable database, and bugs.

Each is answered in the language of the part of the site that was asked (a
problem document under /api, an HTML page elsewhere) and never shows a
traceback, a setting or an SQL statement (Flask logs a bug's traceback; an
unreachable database is logged with the driver's message only, which names
neither the password nor the secret key). A database that does not answer is a 503 with Retry-After, which
harvesters and API clients treat as "come back later", not as a broken server.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from repository.api import http_problem, is_api_request
from repository.api.problems import Problem
from repository.web.views import error_page

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30

# Plain-language titles for the statuses an unknown request can meet.
_TITLES = {404: "Page not found", 405: "Method not allowed", 500: "Server error"}


# What a database that is down, restarting or unreachable raises.
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError)


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    for cls in UNAVAILABLE:
        app.register_error_handler(cls, database_unavailable)


def _http_error(exc: HTTPException) -> Response:
    if is_api_request():
        return http_problem(exc)
    code = exc.code or 500
    message = ("Something went wrong on the server; the error has been logged." if code >= 500
               else exc.description or exc.name)
    resp = error_page(code, _TITLES.get(code, exc.name), message)
    if code == 405 and getattr(exc, "valid_methods", None):
        resp.headers["Allow"] = ", ".join(exc.valid_methods)
    return resp


def database_unavailable(exc: sa_exc.DBAPIError) -> Response:
    # exc.orig is the driver's message alone: no statement, no parameters, no URL.
    log.warning("database unavailable: %s %s: %s", request.method, request.path, exc.orig)
    message = "The database is not answering. Please try again in a little while."
    if is_api_request():
        resp = Problem(503, "unavailable", message).response(request.path)
    elif request.path.startswith("/oai"):
        resp = Response(message + "\n", 503, content_type="text/plain; charset=utf-8")
    else:
        resp = error_page(503, "Temporarily unavailable", message)
    resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return resp

