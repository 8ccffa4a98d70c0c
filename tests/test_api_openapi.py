"""The OpenAPI document matches the blueprint: every route and method is described, nothing more."""
from __future__ import annotations

import json
import re

from repository.api.auth import requires  # noqa: F401  (the decorator marks views with their scope)

IGNORED = {"HEAD", "OPTIONS"}


def api_routes(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        out |= {(path, m.lower()) for m in rule.methods - IGNORED}
    return out


def test_document_is_openapi_3_1_json(client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = json.loads(resp.data)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]


def test_every_route_is_documented_and_every_documented_route_exists(app, client):
    doc = client.get("/api/openapi.json").get_json()
    documented = {(path, method) for path, item in doc["paths"].items() for method in item
                  if method in {"get", "put", "post", "patch", "delete"}}
    routes = api_routes(app)
    assert len(routes) >= 10
    assert routes == documented


def test_writes_declare_the_scope_they_check(app, client):
    doc = client.get("/api/openapi.json").get_json()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - IGNORED:
            op = doc["paths"][path][method.lower()]
            scope = getattr(view, "required_scope", None)
            assert op.get("security") == ([{"bearer": [scope]}] if scope else None), (path, method)
            if scope:
                assert {"401", "403"} <= set(op["responses"]), (path, method)


def test_every_reference_resolves(client):
    doc = client.get("/api/openapi.json").get_json()
    refs = re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(doc))
    assert refs
    for ref in refs:
        node = doc
        for part in ref.split("/"):
            node = node[part]
