"""Sets through the API: create, rename, describe, delete, and what deletion does to members.

Renaming moves no datestamp (headers carry setSpecs, not names); deleting a
set keeps its records, removes the membership and moves their datestamps so
incremental harvesters see the new headers; a set with subsets is refused.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from repository.api.tokens_store import create_token
from repository.db.tables import records
from tests.fixtures import load_corpus
from tests.oai import NS, oai_get


@pytest.fixture
def admin(engine):
    return {"Authorization": f"Bearer {create_token(engine, 'librarian', 'admin')}"}


@pytest.fixture
def corpus(settings, engine, registry):
    return load_corpus(settings, engine, registry)


def stamps(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(records.c.local_id, records.c.stamp)).all())


def problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.data
    assert resp.mimetype == "application/problem+json"
    return resp.get_json()


def test_create_list_and_get(client, admin):
    resp = client.post("/api/sets", json={"spec": "maps", "name": "Maps", "description": "Printed maps"}, headers=admin)
    assert resp.status_code == 201
    assert resp.headers["Location"].endswith("/api/sets/maps")
    assert resp.get_json()["description"] == "Printed maps"
    assert client.post("/api/sets", json={"spec": "maps:ukraine", "name": "Ukraine"}, headers=admin).status_code == 201
    listed = client.get("/api/sets").get_json()
    assert [s["spec"] for s in listed["items"]] == ["maps", "maps:ukraine"]
    assert listed["items"][1]["description"] is None
    page = client.get("/api/sets?limit=1").get_json()
    assert [s["spec"] for s in page["items"]] == ["maps"]
    assert [s["spec"] for s in client.get(page["next"]).get_json()["items"]] == ["maps:ukraine"]
    assert client.get("/api/sets/maps:ukraine").get_json()["name"] == "Ukraine"
    root = oai_get(client, verb="ListSets")
    assert [e.text for e in root.iterfind(".//oai:set/oai:setSpec", NS)] == ["maps", "maps:ukraine"]


@pytest.mark.parametrize("body,status,field", [
    ({"spec": "bad spec", "name": "x"}, 422, "spec"),
    ({"spec": "orphan:child", "name": "x"}, 422, "spec"),
    ({"spec": "ok", "name": " "}, 422, "name"),
    ({"spec": "ok"}, 422, "name"),
    ({"spec": "ok", "name": 5}, 422, "name"),
    ({"spec": "ok", "name": "x", "colour": "red"}, 422, "colour"),
    ({"spec": "ok", "name": "x", "description": "bell \x07"}, 422, "description"),
])
def test_bad_sets_are_refused_naming_the_field(client, admin, body, status, field):
    assert problem(client.post("/api/sets", json=body, headers=admin), status)["field"] == field
    assert client.get("/api/sets").get_json()["items"] == []


def test_duplicate_is_a_conflict(client, admin):
    client.post("/api/sets", json={"spec": "maps", "name": "Maps"}, headers=admin)
    doc = problem(client.post("/api/sets", json={"spec": "maps", "name": "Other"}, headers=admin), 409)
    assert doc["field"] == "spec"
    assert client.get("/api/sets/maps").get_json()["name"] == "Maps"


def test_rename_and_describe_move_no_datestamp(client, engine, admin, corpus):
    before = stamps(engine)
    resp = client.patch("/api/sets/princeton", json={"name": "Princeton", "description": "PUL"}, headers=admin)
    assert resp.status_code == 200
    assert resp.get_json()["name"] == "Princeton" and resp.get_json()["description"] == "PUL"
    cleared = client.patch("/api/sets/princeton", json={"description": None}, headers=admin).get_json()
    assert cleared["description"] is None and cleared["name"] == "Princeton"
    assert stamps(engine) == before
    assert problem(client.patch("/api/sets/princeton", json={"name": ""}, headers=admin), 422)["field"] == "name"
    assert problem(client.patch("/api/sets/nope", json={"name": "x"}, headers=admin), 404)["field"] == "spec"
    assert problem(client.patch("/api/sets/princeton", json={"spec": "x"}, headers=admin), 422)["field"] == "spec"


def test_delete_keeps_members_and_moves_their_datestamps(client, engine, admin, corpus):
    doc = problem(client.delete("/api/sets/princeton", headers=admin), 409)
    assert "princeton:ukrainian" in doc["detail"]
    assert client.get("/api/sets/princeton").status_code == 200

    before = stamps(engine)
    members = corpus["princeton:ukrainian"]
    resp = client.delete("/api/sets/princeton:ukrainian", headers=admin)
    assert resp.status_code == 200
    assert resp.get_json() == {"spec": "princeton:ukrainian", "deleted": True, "records_changed": len(members)}
    after = stamps(engine)
    for local_id in members:
        assert after[local_id] > before[local_id]
        rec = client.get(f"/api/records/{local_id}").get_json()
        assert rec["sets"] == [] and rec["deleted"] is False
    assert {k: v for k, v in after.items() if k not in members} == {k: v for k, v in before.items() if k not in members}
    assert problem(client.get("/api/sets/princeton:ukrainian"), 404)
    assert problem(client.delete("/api/sets/princeton:ukrainian", headers=admin), 404)
    # The parent can go now that its subset has.
    assert client.delete("/api/sets/princeton", headers=admin).status_code == 200


def _members(client, spec: str) -> set[str]:
    from tests.oai import harvest

    items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc", set=spec)
    return {i.findtext("oai:identifier", namespaces=NS).rsplit(":", 1)[1] for i in items}


def test_query_defined_sets_through_the_api(client, admin, corpus):
    rule = {"field": "typeOfResource", "equals": "cartographic"}
    resp = client.post("/api/sets", json={"spec": "maps", "name": "Maps", "rule": rule}, headers=admin)
    assert resp.status_code == 201 and resp.get_json()["rule"] == rule
    maps = _members(client, "maps")
    assert maps and maps < set(corpus["stanford"]) | set(corpus["princeton"]) | set(corpus["princeton:ukrainian"])
    one = sorted(maps)[0]
    title = oai_get(client, verb="GetRecord", identifier=f"oai:granary.test:{one}", metadataPrefix="mods") \
        .findtext(".//mods:titleInfo/mods:title", namespaces=NS)
    narrower = {"all": [rule, {"not": {"field": "title", "equals": title}}]}
    resp = client.patch("/api/sets/maps", json={"rule": narrower}, headers=admin)
    assert resp.status_code == 200 and resp.get_json()["rule"] == narrower
    kept = _members(client, "maps")
    assert one not in kept and kept < maps
    cleared = client.patch("/api/sets/maps", json={"rule": None}, headers=admin)
    assert cleared.get_json()["rule"] is None
    assert _members(client, "maps") == kept, "without a rule the members stay, as explicit members"


@pytest.mark.parametrize("rule", [{"field": "colour", "equals": "red"}, "typeOfResource=text", [1]])
def test_bad_rules_are_refused_naming_the_field(client, admin, rule):
    body = problem(client.post("/api/sets", json={"spec": "x", "name": "X", "rule": rule}, headers=admin), 422)
    assert body["field"] == "rule"
