"""Request plumbing the API views share: the app state, bounded bodies, parameters."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flask import current_app, request

from repository.api.problems import Problem

if TYPE_CHECKING:  # repository.app imports this package
    from repository.app import AppState

JSON_MAX_BYTES = 1024 * 1024  # a JSON body (a DC record or a set) is small; refuse more


def app_state() -> AppState:
    return current_app.extensions["granary"]


def read_body(limit: int) -> bytes:
    """The request body, refused with 413 before it is read whole when over `limit`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Problem(413, "too-large", f"the body is {declared:,} bytes, over the limit of {limit:,}")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise Problem(413, "too-large", f"the body is over the limit of {limit:,} bytes")
    return data


def json_object(limit: int = JSON_MAX_BYTES) -> dict:
    """The body as a JSON object, or a 400/415 problem saying what is wrong with it."""
    if request.mimetype != "application/json":
        raise Problem(415, "unsupported-media-type",
                      f"send Content-Type application/json (got {request.mimetype or 'none'})", field="Content-Type")
    data = read_body(min(limit, JSON_MAX_BYTES))
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise Problem(400, "malformed-body", "the JSON body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise Problem(400, "malformed-body", f"the body is not JSON: {exc.msg} (line {exc.lineno}, column "
                      f"{exc.colno})", line=exc.lineno) from None
    except RecursionError:  # a megabyte of `[` is a valid start of JSON nested a million deep
        raise Problem(400, "malformed-body", "the JSON body is nested too deeply") from None
    if not isinstance(doc, dict):
        raise Problem(400, "malformed-body", "the JSON body must be an object")
    return doc


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(400, "invalid-parameter", f"{name}={raw!r} is not an integer", field=name) from None
    if not low <= value <= high:
        raise Problem(400, "invalid-parameter", f"{name} must be between {low} and {high}", field=name)
    return value
