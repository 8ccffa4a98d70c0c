"""/api/sets: list, describe, create, rename and delete sets (writes need scope admin).

Renaming or describing a set moves no datestamp: record headers carry setSpecs,
not names. Deleting a set keeps its member records; they lose the membership,
so their datestamps move and incremental harvesters see the new headers.
A set with subsets cannot be deleted (409): delete the subsets first.
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Response, jsonify, request, url_for
from sqlalchemy import select

from repository.api import blueprint
from repository.api.auth import requires
from repository.api.common import app_state, int_param, json_object
from repository.api.problems import Problem
from repository.db.tables import sets as sets_table
from repository.store import queries
from repository.store.errors import SetError
from repository.store.writes import add_set, remove_set, set_rule, update_set

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def set_json(row) -> dict:
    st = app_state()
    base = st.settings.base_url or url_for("oai.endpoint", _external=True)
    return {
        "spec": row.spec,
        "name": row.name,
        "description": row.description or None,
        "rule": json.loads(row.rule) if row.rule else None,
        "links": {
            "self": url_for("api.get_set", spec=row.spec, _external=True),
            "records": url_for("api.list_records", set=row.spec, _external=True),
            "oai": f"{base}?" + urlencode({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": row.spec}),
        },
    }


def _row(spec: str):
    with app_state().engine.connect() as conn:
        return conn.execute(select(sets_table.c.spec, sets_table.c.name, sets_table.c.description, sets_table.c.rule)
                            .where(sets_table.c.spec == spec)).first()


def _existing(spec: str):
    row = _row(spec)
    if row is None:
        raise Problem(404, "not-found", f"no set {spec!r}", field="spec")
    return row


def _text(doc: dict, name: str, required: bool, nullable: bool = False) -> str | None:
    if name not in doc:
        if required:
            raise Problem(422, "invalid-field", f"{name} is required", field=name)
        return None
    value = doc[name]
    if value is None and nullable:
        return ""
    if not isinstance(value, str):
        raise Problem(422, "invalid-field", f"{name} must be a string", field=name)
    return value


def _rule(doc: dict) -> str | None:
    """The rule member as the JSON text the store takes (None: no rule)."""
    value = doc.get("rule")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Problem(422, "invalid-field", "rule must be a JSON object (docs/sets.md) or null", field="rule")
    return json.dumps(value)


def _refuse_unknown(doc: dict, allowed: set[str]) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise Problem(422, "invalid-field", f"unknown member {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
                      field=unknown[0])


def _refusal(exc: SetError, spec: str) -> Problem:
    """A SetError from a set whose existence was checked: the field the message names."""
    msg = str(exc)
    field = ("rule" if "rule" in msg else "name" if " name" in msg else "description" if "description" in msg
             else "spec")
    return Problem(422, "invalid-field", msg, field=field)


@blueprint.get("/sets")
def list_sets() -> Response:
    limit = int_param("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    after = request.args.get("after") or None
    with app_state().engine.connect() as conn:
        rows = queries.list_sets(conn, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = url_for("api.list_sets", after=rows[-1].spec, limit=limit, _external=True) if more else None
    return jsonify({"items": [set_json(r) for r in rows], "cursor": rows[-1].spec if more else None, "next": nxt})


@blueprint.get("/sets/<spec>")
def get_set(spec: str) -> Response:
    return jsonify(set_json(_existing(spec)))


@blueprint.post("/sets")
@requires("admin")
def create_set() -> Response:
    st = app_state()
    doc = json_object()
    _refuse_unknown(doc, {"spec", "name", "description", "rule"})
    spec = _text(doc, "spec", True)
    name = _text(doc, "name", True)
    description = _text(doc, "description", False, nullable=True) or None
    rule = _rule(doc)
    if _row(spec) is not None:
        raise Problem(409, "conflict", f"set {spec!r} already exists", field="spec",
                      headers={"Location": url_for("api.get_set", spec=spec, _external=True)})
    try:
        add_set(st.engine, st.settings.write_lease_timeout_seconds, spec, name, description, rule)
    except SetError as exc:
        if "already exists" in str(exc):  # created by a concurrent request
            raise Problem(409, "conflict", str(exc), field="spec") from None
        raise _refusal(exc, spec) from None
    resp = jsonify(set_json(_existing(spec)))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.get_set", spec=spec, _external=True)
    return resp


@blueprint.patch("/sets/<spec>")
@requires("admin")
def patch_set(spec: str) -> Response:
    st = app_state()
    doc = json_object()
    _refuse_unknown(doc, {"name", "description", "rule"})
    name = _text(doc, "name", False)
    description = _text(doc, "description", False, nullable=True)
    _existing(spec)
    try:
        update_set(st.engine, st.settings.write_lease_timeout_seconds, spec, name, description)
        if "rule" in doc:
            set_rule(st.engine, st.settings.write_lease_timeout_seconds, spec, _rule(doc))
    except SetError as exc:
        if _row(spec) is None:
            raise Problem(404, "not-found", f"no set {spec!r}", field="spec") from None
        raise _refusal(exc, spec) from None
    return jsonify(set_json(_existing(spec)))


@blueprint.delete("/sets/<spec>")
@requires("admin")
def delete_set(spec: str) -> Response:
    st = app_state()
    _existing(spec)
    try:
        members = remove_set(st.engine, st.settings.write_lease_timeout_seconds, spec)
    except SetError as exc:
        if _row(spec) is None:
            raise Problem(404, "not-found", f"no set {spec!r}", field="spec") from None
        raise Problem(409, "conflict", f"{exc}", field="spec") from None
    return jsonify({"spec": spec, "deleted": True, "records_changed": members})
