"""The OpenAPI 3.1 description of /api, served at /api/openapi.json.

Kept by hand next to the views; tests/test_api_openapi.py fails when a route
of the blueprint (path or method) is missing here, or documented but gone.
"""
from __future__ import annotations

from flask import jsonify, request

from repository.api import blueprint
from repository.api.records import DC_ELEMENTS, MAX_LIMIT
from repository.api.tokens_store import SCOPES

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _problem(description: str) -> dict:
    return {"description": description, "content": PROBLEM}


def _json(ref: str, description: str, headers: dict | None = None) -> dict:
    out = {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}
    if headers:
        out["headers"] = headers
    return out


ETAG = {"ETag": {"description": "Strong validator of the record: its stamp. Send it back in If-Match.",
                 "schema": {"type": "string"}}}
LOCATION = {"Location": {"description": "URL of the created resource", "schema": {"type": "string", "format": "uri"}}}
WRITE = [{"bearer": ["write"]}]
ADMIN = [{"bearer": ["admin"]}]
AUTH_ERRORS = {"401": _problem("No bearer token, or an unknown or revoked one"),
               "403": _problem("The token's scope is too low")}

LOCAL_ID = {"name": "local_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 512},
            "description": "The record's local identifier (the last part of its oai identifier); may contain '/'."}
SPEC = {"name": "spec", "in": "path", "required": True, "schema": {"type": "string"}, "description": "setSpec"}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "Write only if the record's ETag is still this one (or `*`: only if it exists); "
                           "412 otherwise. Checked inside the write transaction."}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "`*`: create only; 412 if the record exists (even withdrawn)."}
SETS_QUERY = {"name": "sets", "in": "query", "required": False, "style": "form", "explode": True,
              "schema": {"type": "array", "items": {"type": "string"}},
              "description": "For XML bodies: the record's set memberships, replacing the current ones exactly "
                             "(repeat it or separate with commas; `sets=` empty removes every membership). "
                             "Omitted: memberships stay as they are."}

XML_BODY = {"schema": {"type": "string", "contentMediaType": "application/xml"}}
RECORD_BODY = {
    "required": True,
    "description": "One record: MODS (mods:mods) or oai_dc (oai_dc:dc) XML, told apart by its root element, "
                   "validated against the official schema; or JSON Dublin Core fields.",
    "content": {"application/mods+xml": XML_BODY, "application/xml": XML_BODY, "text/xml": XML_BODY,
                "application/json": {"schema": {"$ref": "#/components/schemas/DCRecord"}}},
}
BODY_ERRORS = {
    "400": _problem("Malformed XML (with `line`) or JSON, or a bad parameter"),
    "413": _problem("Body over the size limit (GRANARY_MAX_XML_BYTES; 1 MiB for JSON)"),
    "415": _problem("Content-Type not accepted"),
    "422": _problem("Not valid against the format's schema (`errors` lists line, path, message), an unknown set "
                    "(`field`: sets), or a bad JSON field (`field`)"),
}

_strings = {"oneOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}]}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Granary REST API",
            "version": "1.0.0",
            "description": "Create, replace, read and withdraw records and manage sets of a Granary OAI-PMH "
                           "repository. Reads are open; writes need a bearer token (`granary token create`): "
                           "scope write for records, admin for sets. Errors are RFC 9457 problem details. "
                           "See docs/api.md.",
        },
        "servers": [{"url": request.host_url.rstrip("/")}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": f"Scopes, each including the lower: {' < '.join(SCOPES)}"}},
            "schemas": {
                "Problem": {
                    "type": "object", "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string", "format": "uri-reference",
                                 "description": "urn:granary:problem:<kind>; docs/api.md lists them"},
                        "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "field": {"type": "string", "description": "JSON member, parameter or header at fault"},
                        "record": {"type": "string", "description": "Local identifier of the record concerned"},
                        "line": {"type": "integer", "description": "Line of the XML body"},
                        "errors": {"type": "array", "items": {
                            "type": "object", "properties": {"line": {"type": "integer"}, "path": {"type": "string"},
                                                             "message": {"type": "string"}}}},
                    },
                },
                "DCRecord": {
                    "type": "object", "additionalProperties": False,
                    "description": "Simple Dublin Core: stored as an oai_dc record (elements in the order listed).",
                    "properties": {**{e: _strings for e in DC_ELEMENTS},
                                   "sets": {"type": "array", "items": {"type": "string"},
                                            "description": "Memberships, replacing the current ones; omitted: kept"}},
                },
                "Record": {
                    "type": "object",
                    "properties": {
                        "local_id": {"type": "string"}, "identifier": {"type": "string"},
                        "datestamp": {"type": "string", "format": "date-time"}, "deleted": {"type": "boolean"},
                        "sets": {"type": "array", "items": {"type": "string"},
                                 "description": "Direct memberships (a subset implies its parents in OAI headers)"},
                        "native_format": {"type": "string"},
                        "formats": {"type": "array", "items": {"type": "string"}},
                        "links": {"type": "object", "properties": {
                            "self": {"type": "string", "format": "uri"},
                            "oai": {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}}},
                    },
                },
                "RecordList": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"type": "object", "properties": {
                            "local_id": {"type": "string"}, "identifier": {"type": "string"},
                            "datestamp": {"type": "string"}, "deleted": {"type": "boolean"},
                            "sets": {"type": "array", "items": {"type": "string"}},
                            "links": {"type": "object"}}}},
                        "cursor": {"type": ["string", "null"], "description": "Pass as `after` for the next page"},
                        "next": {"type": ["string", "null"], "format": "uri"},
                        "watermark": {"type": "string", "description": "Every change before this time is listed; "
                                                                       "use it as `since` for the next sync"},
                    },
                },
                "Set": {
                    "type": "object",
                    "properties": {"spec": {"type": "string"}, "name": {"type": "string"},
                                   "description": {"type": ["string", "null"]}, "rule": {"type": ["object", "null"],
                                            "description": "A query-defined set's rule (docs/sets.md); null: explicit membership"},
                                   "links": {"type": "object"}},
                },
                "SetList": {
                    "type": "object",
                    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Set"}},
                                   "cursor": {"type": ["string", "null"]}, "next": {"type": ["string", "null"]}},
                },
                "SetInput": {
                    "type": "object", "additionalProperties": False, "required": ["spec", "name"],
                    "properties": {"spec": {"type": "string"}, "name": {"type": "string"},
                                   "description": {"type": ["string", "null"]}, "rule": {"type": ["object", "null"],
                                            "description": "A query-defined set's rule (docs/sets.md); null: explicit membership"}},
                },
                "SetPatch": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"name": {"type": "string"},
                                   "description": {"type": ["string", "null"],
                                                   "description": "null or \"\" removes the description"},
                                   "rule": {"type": ["object", "null"],
                                            "description": "a new rule (members recomputed), or null: members "
                                                           "stay, now explicit"}},
                },
            },
        },
        "paths": {
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/api/records": {
                "get": {
                    "operationId": "listRecords", "summary": "List records (tombstones included), oldest change first",
                    "parameters": [
                        {"name": "set", "in": "query", "schema": {"type": "string"},
                         "description": "Only members of this set (and of its subsets)"},
                        {"name": "since", "in": "query", "schema": {"type": "string"},
                         "description": "Only records changed at or after this UTC datetime "
                                        "(YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)"},
                        {"name": "after", "in": "query", "schema": {"type": "string"},
                         "description": "Opaque cursor from the previous page"},
                        {"name": "limit", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100}},
                    ],
                    "responses": {"200": _json("RecordList", "A page of records"),
                                  "400": _problem("A bad parameter (`field` names it)"),
                                  "404": _problem("No such set")},
                },
                "post": {
                    "operationId": "createRecord",
                    "summary": "Create a record named by its own identifier (as `granary ingest` names it)",
                    "security": WRITE,
                    "parameters": [SETS_QUERY],
                    "requestBody": RECORD_BODY,
                    "responses": {"201": _json("Record", "Created", {**ETAG, **LOCATION}), **AUTH_ERRORS,
                                  **BODY_ERRORS, "409": _problem("A record with this identifier exists")},
                },
            },
            "/api/records/{local_id}": {
                "parameters": [LOCAL_ID],
                "get": {
                    "operationId": "getRecord", "summary": "A record's description, or its XML in one format",
                    "parameters": [{"name": "format", "in": "query", "schema": {"type": "string"},
                                    "description": "mods or oai_dc: return that XML dissemination. Without it, "
                                                   "Accept: application/xml returns the native format, "
                                                   "application/mods+xml MODS."}],
                    "responses": {
                        "200": {"description": "The record", "headers": ETAG, "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Record"}},
                            "application/xml": XML_BODY}},
                        "304": {"description": "Not modified (If-None-Match)"},
                        "400": _problem("Unknown format"), "404": _problem("No such record"),
                        "406": _problem("Accept names no available representation"),
                        "410": _problem("XML asked of a withdrawn record"),
                    },
                },
                "put": {
                    "operationId": "putRecord",
                    "summary": "Create or replace a record; idempotent (an identical PUT changes nothing)",
                    "security": WRITE,
                    "parameters": [IF_MATCH, IF_NONE_MATCH, SETS_QUERY],
                    "requestBody": RECORD_BODY,
                    "responses": {"200": _json("Record", "Replaced, or unchanged (same ETag)", ETAG),
                                  "201": _json("Record", "Created", {**ETAG, **LOCATION}), **AUTH_ERRORS,
                                  **BODY_ERRORS, "412": _problem("If-Match stale, or If-None-Match: * and it exists")},
                },
                "delete": {
                    "operationId": "deleteRecord",
                    "summary": "Withdraw a record: it stays as a deleted tombstone for harvesters",
                    "security": WRITE,
                    "parameters": [IF_MATCH],
                    "responses": {"204": {"description": "Withdrawn (or already was)", "headers": ETAG},
                                  **AUTH_ERRORS, "404": _problem("No such record"),
                                  "412": _problem("If-Match stale")},
                },
            },
            "/api/sets": {
                "get": {
                    "operationId": "listSets", "summary": "List sets by setSpec",
                    "parameters": [{"name": "after", "in": "query", "schema": {"type": "string"}},
                                   {"name": "limit", "in": "query",
                                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}}],
                    "responses": {"200": _json("SetList", "A page of sets")},
                },
                "post": {
                    "operationId": "createSet", "summary": "Create a set (its parent must exist)", "security": ADMIN,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/SetInput"}}}},
                    "responses": {"201": _json("Set", "Created", LOCATION), **AUTH_ERRORS,
                                  "409": _problem("The set exists"),
                                  "422": _problem("Bad spec, name or description; missing parent")},
                },
            },
            "/api/sets/{spec}": {
                "parameters": [SPEC],
                "get": {"operationId": "getSet", "summary": "One set",
                        "responses": {"200": _json("Set", "The set"), "404": _problem("No such set")}},
                "patch": {
                    "operationId": "patchSet", "summary": "Rename or describe a set (no datestamp moves)",
                    "security": ADMIN,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/SetPatch"}}}},
                    "responses": {"200": _json("Set", "The updated set"), **AUTH_ERRORS,
                                  "404": _problem("No such set"), "422": _problem("Bad name or description")},
                },
                "delete": {
                    "operationId": "deleteSet",
                    "summary": "Delete a set. Its records stay but leave it: their datestamps move so harvesters "
                               "see the change",
                    "security": ADMIN,
                    "responses": {"200": {"description": "Deleted; records_changed members left it", "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "spec": {"type": "string"}, "deleted": {"type": "boolean"},
                            "records_changed": {"type": "integer"}}}}}},
                                  **AUTH_ERRORS, "404": _problem("No such set"),
                                  "409": _problem("The set has subsets; delete them first")},
                },
            },
        },
    }


@blueprint.get("/openapi.json")
def openapi_document():
    return jsonify(document())
