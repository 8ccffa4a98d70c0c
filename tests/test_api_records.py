"""The REST API's records: create, replace, read, list and withdraw, over real corpus records.

What matters: an identical PUT changes nothing (datestamp and ETag stay), a
stale If-Match refuses the write and leaves the store as it was, every refusal
is a problem document naming the field, record and line, and a record written
through the API is harvestable over OAI-PMH in every format.
"""
from __future__ import annotations

import contextlib
import json
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa

from repository.api.tokens_store import create_token
from repository.db.tables import record_sets, record_sources, records
from tests.fixtures import load_corpus, set_datestamp
from tests.oai import NS, oai_get
from tests.shared import CORPUS

MODS_FILE = min(CORPUS.glob("mods/fsu-*.xml"))
MODS_OTHER = sorted(CORPUS.glob("mods/fsu-*.xml"))[1]
DC_FILE = CORPUS / "oai_dc" / "dpla-rumsey.xml"
INVALID_MODS = CORPUS / "invalid" / "mods" / "dpla-ct.xml"  # subject/geographic with element content, line 33
MODS = {"Content-Type": "application/mods+xml"}
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def auth(engine):
    return {"Authorization": f"Bearer {create_token(engine, 'editor', 'write')}"}


def row(engine, local_id: str):
    with engine.connect() as conn:
        return conn.execute(sa.select(records.c.stamp, record_sources.c.native_xml, records.c.deleted,
                                      records.c.set_specs, records.c.content_hash)
                            .join(record_sources, record_sources.c.record_id == records.c.id)
                            .where(records.c.local_id == local_id)).first()


def problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.data
    assert resp.mimetype == "application/problem+json"
    doc = resp.get_json()
    assert doc["status"] == status and doc["type"].startswith("urn:granary:problem:") and doc["title"] and doc["detail"]
    return doc


def oai_datestamp(client, local_id: str, prefix: str = "oai_dc") -> str:
    root = oai_get(client, verb="GetRecord", identifier=f"oai:granary.test:{local_id}", metadataPrefix=prefix)
    return root.findtext("oai:GetRecord/oai:record/oai:header/oai:datestamp", namespaces=NS)


def test_put_creates_and_an_identical_put_changes_nothing(client, engine, auth):
    first = client.put("/api/records/fsu-1", data=MODS_FILE.read_bytes(), headers={**auth, **MODS})
    assert first.status_code == 201
    assert first.headers["Location"].endswith("/api/records/fsu-1")
    etag = first.headers["ETag"]
    before, datestamp = row(engine, "fsu-1"), oai_datestamp(client, "fsu-1")
    assert etag == f'"{before.stamp}"'

    again = client.put("/api/records/fsu-1", data=MODS_FILE.read_bytes(), headers={**auth, **MODS})
    assert again.status_code == 200
    assert again.headers["ETag"] == etag
    assert row(engine, "fsu-1").stamp == before.stamp
    assert oai_datestamp(client, "fsu-1") == datestamp
    assert again.get_json() == first.get_json()

    changed = client.put("/api/records/fsu-1", data=MODS_OTHER.read_bytes(), headers={**auth, **MODS})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert row(engine, "fsu-1").stamp > before.stamp


def test_get_describes_the_record_and_serves_each_format(client, auth):
    client.put("/api/records/fsu-1", data=MODS_FILE.read_bytes(), headers={**auth, **MODS})
    resp = client.get("/api/records/fsu-1")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.get_json()
    assert doc["identifier"] == "oai:granary.test:fsu-1"
    assert doc["native_format"] == "mods" and doc["formats"] == ["mods", "oai_dc"] and not doc["deleted"]
    oai = parse_qs(urlparse(doc["links"]["oai"]["oai_dc"]).query)
    assert oai == {"verb": ["GetRecord"], "identifier": ["oai:granary.test:fsu-1"], "metadataPrefix": ["oai_dc"]}

    dc = client.get("/api/records/fsu-1?format=oai_dc")
    assert dc.status_code == 200 and dc.mimetype == "application/xml"
    assert dc.data.startswith(b"<oai_dc:dc")
    native = client.get("/api/records/fsu-1", headers={"Accept": "application/xml"})
    assert native.data.startswith(b"<mods:mods")
    assert native.headers["ETag"] != dc.headers["ETag"] != resp.headers["ETag"]
    assert client.get("/api/records/fsu-1", headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    assert problem(client.get("/api/records/fsu-1?format=marc"), 400)["field"] == "format"
    assert problem(client.get("/api/records/fsu-1", headers={"Accept": "image/png"}), 406)["field"] == "Accept"


@pytest.mark.parametrize("path,content_type,native", [
    (MODS_FILE, "application/mods+xml", "mods"),
    (DC_FILE, "text/xml", "oai_dc"),
])
def test_a_record_written_through_the_api_is_harvestable_in_both_formats(client, auth, path, content_type, native):
    resp = client.put("/api/records/api-1?sets=", data=path.read_bytes(),
                      headers={**auth, "Content-Type": content_type})
    assert resp.status_code == 201
    assert resp.get_json()["native_format"] == native
    for prefix, root_tag in (("mods", "mods:mods"), ("oai_dc", "oai_dc:dc")):
        root = oai_get(client, verb="GetRecord", identifier="oai:granary.test:api-1", metadataPrefix=prefix)
        assert root.find(f"oai:GetRecord/oai:record/oai:metadata/{root_tag}", NS) is not None
    idents = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert "oai:granary.test:api-1" in [e.text for e in idents.iterfind(".//oai:header/oai:identifier", NS)]


def test_json_fields_become_an_oai_dc_record(client, engine, auth):
    body = {"title": "Map of the Dnieper", "creator": ["Kovalenko, O.", "Petrenko, I."], "date": "1911"}
    resp = client.put("/api/records/json-1", json=body, headers=auth)
    assert resp.status_code == 201
    assert resp.get_json()["native_format"] == "oai_dc"
    root = oai_get(client, verb="GetRecord", identifier="oai:granary.test:json-1", metadataPrefix="oai_dc")
    dc = root.find("oai:GetRecord/oai:record/oai:metadata/oai_dc:dc", NS)
    assert [e.text for e in dc.iterfind("dc:creator", NS)] == body["creator"]
    assert dc.findtext("dc:title", namespaces=NS) == body["title"]
    mods = oai_get(client, verb="GetRecord", identifier="oai:granary.test:json-1", metadataPrefix="mods")
    assert mods.findtext(".//mods:titleInfo/mods:title", namespaces=NS) == body["title"]
    # The same fields in another member order are the same record: nothing changes.
    stamp = row(engine, "json-1").stamp
    again = client.put("/api/records/json-1", json=dict(reversed(list(body.items()))), headers=auth)
    assert again.status_code == 200 and row(engine, "json-1").stamp == stamp


@pytest.mark.parametrize("body,field", [
    ({"title": "x", "colour": "red"}, "colour"),
    ({"title": ["ok", 3]}, "title[1]"),
    ({"title": ""}, "title[0]"),
    ({"title": "bell \x07"}, "title[0]"),
    ({"title": "x", "sets": "not a list"}, "sets"),
])
def test_bad_json_fields_are_named(client, engine, auth, body, field):
    doc = problem(client.put("/api/records/json-bad", json=body, headers=auth), 422)
    assert doc["field"] == field and doc["record"] == "json-bad"
    assert row(engine, "json-bad") is None


def test_malformed_json_is_a_400_with_its_line(client, auth):
    doc = problem(client.put("/api/records/j", data=b'{\n"title": \n}', headers={**auth, "Content-Type": "application/json"}), 400)
    assert doc["line"] == 3


def test_post_names_the_record_from_its_own_identifier(client, engine, auth):
    resp = client.post("/api/records", data=MODS_FILE.read_bytes(), headers={**auth, **MODS})
    assert resp.status_code == 201
    assert resp.get_json()["local_id"] == "FSU_2010002_J1232_SR5-02"  # its MODS identifier, as ingest names it
    assert resp.headers["Location"].endswith("/api/records/FSU_2010002_J1232_SR5-02")
    stamp = row(engine, "FSU_2010002_J1232_SR5-02").stamp
    dup = problem(client.post("/api/records", data=MODS_FILE.read_bytes(), headers={**auth, **MODS}), 409)
    assert dup["record"] == "FSU_2010002_J1232_SR5-02"
    assert row(engine, "FSU_2010002_J1232_SR5-02").stamp == stamp
    anonymous = problem(client.post("/api/records", json={"title": "no identifier"}, headers=auth), 422)
    assert anonymous["field"] == "identifier"


def test_stale_if_match_is_refused_and_changes_nothing(client, engine, auth):
    etag = client.put("/api/records/r", data=MODS_FILE.read_bytes(), headers={**auth, **MODS}).headers["ETag"]
    # Another editor replaces it first.
    second = client.put("/api/records/r", data=MODS_OTHER.read_bytes(), headers={**auth, **MODS, "If-Match": etag})
    assert second.status_code == 200
    before = row(engine, "r")
    late = client.put("/api/records/r", data=MODS_FILE.read_bytes(), headers={**auth, **MODS, "If-Match": etag})
    doc = problem(late, 412)
    assert doc["record"] == "r" and doc["field"] == "If-Match"
    assert late.headers["ETag"] == second.headers["ETag"]
    assert row(engine, "r") == before
    gone = problem(client.delete("/api/records/r", headers={**auth, "If-Match": etag}), 412)
    assert gone["record"] == "r" and row(engine, "r") == before
    weak = client.put("/api/records/r", data=MODS_FILE.read_bytes(),
                      headers={**auth, **MODS, "If-Match": "W/" + second.headers["ETag"]})
    assert weak.status_code == 412 and row(engine, "r") == before
    # The XML representation's ETag names the same version, so it is accepted too.
    xml_etag = client.get("/api/records/r?format=mods").headers["ETag"]
    ok = client.put("/api/records/r", data=MODS_FILE.read_bytes(), headers={**auth, **MODS, "If-Match": xml_etag})
    assert ok.status_code == 200 and row(engine, "r").stamp > before.stamp


def test_if_match_on_a_missing_record_and_if_none_match_star(client, engine, auth):
    assert problem(client.put("/api/records/new", data=MODS_FILE.read_bytes(),
                              headers={**auth, **MODS, "If-Match": '"123"'}), 412)["record"] == "new"
    assert row(engine, "new") is None
    assert client.put("/api/records/new", data=MODS_FILE.read_bytes(),
                      headers={**auth, **MODS, "If-None-Match": "*"}).status_code == 201
    before = row(engine, "new")
    problem(client.put("/api/records/new", data=MODS_OTHER.read_bytes(),
                       headers={**auth, **MODS, "If-None-Match": "*"}), 412)
    assert row(engine, "new") == before


def test_delete_leaves_a_tombstone(client, engine, auth):
    etag = client.put("/api/records/d", data=DC_FILE.read_bytes(), headers={**auth, **XML}).headers["ETag"]
    resp = client.delete("/api/records/d", headers={**auth, "If-Match": etag})
    assert resp.status_code == 204
    assert resp.headers["ETag"] != etag
    doc = client.get("/api/records/d").get_json()
    assert doc["deleted"] is True and doc["formats"] == []
    root = oai_get(client, verb="GetRecord", identifier="oai:granary.test:d", metadataPrefix="oai_dc")
    assert root.find("oai:GetRecord/oai:record/oai:header", NS).get("status") == "deleted"
    assert problem(client.get("/api/records/d?format=oai_dc"), 410)["record"] == "d"
    assert client.delete("/api/records/d", headers=auth).status_code == 204  # already withdrawn: still done
    assert problem(client.delete("/api/records/nothing", headers=auth), 404)["record"] == "nothing"
    # PUT restores a withdrawn record.
    assert client.put("/api/records/d", data=DC_FILE.read_bytes(), headers={**auth, **XML}).status_code == 200
    assert row(engine, "d").deleted is False


def test_malformed_xml_is_a_400_naming_the_line(client, engine, auth):
    body = b'<?xml version="1.0"?>\n<mods xmlns="http://www.loc.gov/mods/v3">\n<titleInfo><title>x</titleInfo>\n</mods>\n'
    doc = problem(client.put("/api/records/bad", data=body, headers={**auth, **MODS}), 400)
    assert doc["line"] == 3 and doc["record"] == "bad"
    assert row(engine, "bad") is None
    doctype = b'<!DOCTYPE x [<!ENTITY a "b">]>\n<mods xmlns="http://www.loc.gov/mods/v3"/>'
    assert problem(client.put("/api/records/bad", data=doctype, headers={**auth, **MODS}), 400)["line"] == 1


def test_schema_invalid_record_is_a_422_with_path_and_line(client, engine, auth):
    doc = problem(client.put("/api/records/inv", data=INVALID_MODS.read_bytes(), headers={**auth, **MODS}), 422)
    assert doc["record"] == "inv"
    assert doc["errors"][0]["path"] == "/mods/subject/geographic[1]"
    assert doc["errors"][0]["line"] == 33 == doc["line"]
    assert "geographic" in doc["errors"][0]["message"]
    assert row(engine, "inv") is None


def test_bodies_that_are_not_a_record(client, auth, settings):
    collection = CORPUS / "invalid" / "mods" / "pymods-title_xml.xml"
    assert problem(client.put("/api/records/c", data=collection.read_bytes(), headers={**auth, **MODS}), 422)
    assert problem(client.put("/api/records/c", data=DC_FILE.read_bytes(), headers={**auth, **MODS}),
                   422)["field"] == "Content-Type"
    assert problem(client.put("/api/records/c", data=b"title=x",
                              headers={**auth, "Content-Type": "text/plain"}), 415)["field"] == "Content-Type"
    big = b"<a>" + b"x" * settings.max_xml_bytes + b"</a>"
    assert problem(client.put("/api/records/c", data=big, headers={**auth, **XML}), 413)


def test_sets_given_replace_memberships_and_sets_omitted_keep_them(client, engine, auth):
    from repository.store import writes
    for spec in ("maps", "fsu"):
        writes.add_set(engine, 60, spec, spec.upper(), None)
    put = client.put("/api/records/s?sets=maps&sets=fsu", data=MODS_FILE.read_bytes(), headers={**auth, **MODS})
    assert put.get_json()["sets"] == ["fsu", "maps"]
    kept = client.put("/api/records/s", data=MODS_FILE.read_bytes(), headers={**auth, **MODS})
    assert kept.get_json()["sets"] == ["fsu", "maps"] and kept.headers["ETag"] == put.headers["ETag"]
    fewer = client.put("/api/records/s?sets=maps", data=MODS_FILE.read_bytes(), headers={**auth, **MODS})
    assert fewer.get_json()["sets"] == ["maps"] and fewer.headers["ETag"] != put.headers["ETag"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(record_sets.c.spec)).scalars().all() == ["maps"]
    none = client.put("/api/records/s?sets=", data=MODS_FILE.read_bytes(), headers={**auth, **MODS})
    assert none.get_json()["sets"] == []
    via_json = client.put("/api/records/j", json={"title": "t", "sets": ["fsu"]}, headers=auth)
    assert via_json.get_json()["sets"] == ["fsu"]
    before = row(engine, "s")
    doc = problem(client.put("/api/records/s?sets=nope", data=MODS_OTHER.read_bytes(), headers={**auth, **MODS}), 422)
    assert doc["field"] == "sets" and "nope" in doc["detail"] and doc["record"] == "s"
    assert row(engine, "s") == before
    assert problem(client.put("/api/records/s?sets=bad%20spec", data=MODS_FILE.read_bytes(),
                              headers={**auth, **MODS}), 422)["field"] == "sets"


def test_unknown_record_is_a_404_problem(client):
    assert problem(client.get("/api/records/nope"), 404)["record"] == "nope"
    assert problem(client.get("/api/no-such-thing"), 404)
    assert problem(client.patch("/api/records/nope"), 405)


# ---------------------------------------------------------------- listing

@pytest.fixture
def corpus(settings, engine, registry):
    return load_corpus(settings, engine, registry)


def walk(client, **params) -> list[str]:
    seen: list[str] = []
    resp = client.get("/api/records", query_string=params)
    while True:
        assert resp.status_code == 200, resp.data
        doc = resp.get_json()
        assert len(doc["items"]) <= params.get("limit", 100)
        seen += [i["local_id"] for i in doc["items"]]
        if doc["next"] is None:
            assert doc["cursor"] is None
            return seen
        resp = client.get(doc["next"])


def test_cursor_walk_lists_every_record_once(client, engine, corpus):
    seen = walk(client, limit=4)
    with engine.connect() as conn:
        everything = conn.execute(sa.select(records.c.local_id).order_by(records.c.stamp, records.c.id)).scalars().all()
    assert len(everything) > 12
    assert seen == everything  # in change order, nothing twice, nothing missing (tombstone included)


def test_set_filter_includes_subsets(client, corpus):
    assert sorted(walk(client, set="princeton", limit=3)) == sorted(corpus["princeton"] + corpus["princeton:ukrainian"])
    assert sorted(walk(client, set="princeton:ukrainian")) == sorted(corpus["princeton:ukrainian"])
    assert problem(client.get("/api/records?set=nope"), 404)["field"] == "set"


def test_since_filter(client, engine, corpus):
    old = corpus["stanford"][1:]
    for local_id in corpus["stanford"] + corpus["princeton"] + corpus["princeton:ukrainian"] + corpus["dc"]:
        set_datestamp(engine, local_id, "2020-01-01T00:00:00Z")
    recent = corpus["dc"][:2]
    for local_id in recent:
        set_datestamp(engine, local_id, "2024-06-01T12:00:00Z")
    assert sorted(walk(client, since="2024-06-01T12:00:00Z", limit=1)) == sorted(recent)
    assert sorted(walk(client, since="2024-06-01", set="dc")) == sorted(recent)
    assert set(old) <= set(walk(client, since="2019-12-31", limit=1000))
    assert walk(client, since="2024-06-01T12:00:01Z") == []
    assert problem(client.get("/api/records?since=yesterday"), 400)["field"] == "since"
    assert problem(client.get("/api/records?after=!!!"), 400)["field"] == "after"
    assert problem(client.get("/api/records?limit=1001"), 400)["field"] == "limit"


def test_listing_shows_sets_and_tombstones(client, corpus):
    items = {i["local_id"]: i for i in client.get("/api/records?limit=1000").get_json()["items"]}
    assert items["stanford-bb013fz9675"]["deleted"] is True
    assert items[corpus["princeton:ukrainian"][0]]["sets"] == ["princeton:ukrainian"]
    assert json.loads(json.dumps(items))  # plain JSON all the way down


def test_two_editors_with_the_same_etag_cannot_both_write(app, engine, auth, monkeypatch):
    """Both requests pass the precondition read, then meet inside the write (the crosswalk
    step runs in the transaction). Exactly one may win; the other must get 412."""
    import threading

    from repository.api import records as api_records

    client = app.test_client()
    etag = client.put("/api/records/race", data=MODS_FILE.read_bytes(), headers={**auth, **MODS}).headers["ETag"]
    meet = threading.Barrier(2)
    real_prepare = api_records.prepare

    def meeting_prepare(*args, **kwargs):
        p = real_prepare(*args, **kwargs)
        render = p.render

        def render_after_meeting():
            # A store that serializes these writers never lets both arrive: the wait then times out.
            with contextlib.suppress(threading.BrokenBarrierError):
                meet.wait(timeout=2)
            return render()
        return api_records.replace(p, render=render_after_meeting)

    monkeypatch.setattr(api_records, "prepare", meeting_prepare)
    statuses = []

    def edit(path):
        resp = app.test_client().put("/api/records/race", data=path.read_bytes(),
                                     headers={**auth, **MODS, "If-Match": etag})
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=edit, args=(p,)) for p in (MODS_OTHER, sorted(CORPUS.glob("mods/fsu-*.xml"))[2])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 412]
