"""ListIdentifiers, ListRecords and ListSets: token walks, selective harvests, deletions."""
from __future__ import annotations

import json
import time

import pytest

from repository.app import create_app
from repository.config import Settings
from repository.db.engine import make_engine
from repository.oai import tokens
from tests.conftest import make_settings
from tests.fixtures import load_corpus, set_datestamp
from tests.oai import NS, error_codes, harvest, oai_get


@pytest.fixture
def loaded(settings, engine, registry):
    return load_corpus(settings, engine, registry)


def _ids(items) -> list[str]:
    return [(i.findtext("oai:header/oai:identifier", namespaces=NS) or i.findtext("oai:identifier", namespaces=NS))
            for i in items]


def _all_ids(loaded) -> set[str]:
    return {f"oai:granary.test:{x}" for v in loaded.values() for x in v}


@pytest.mark.parametrize("verb", ["ListRecords", "ListIdentifiers"])
@pytest.mark.parametrize("prefix", ["oai_dc", "mods"])
def test_full_token_walk_has_no_duplicates_no_gaps_and_a_true_complete_list_size(client, loaded, verb, prefix):
    items, toks = harvest(client, verb, metadataPrefix=prefix)
    ids = _ids(items)
    assert len(ids) == len(set(ids)), "duplicates in a static harvest"
    assert set(ids) == _all_ids(loaded)
    assert len(toks) == -(-len(ids) // 7)  # ceil: one token per page after the first
    assert {int(t.get("completeListSize")) for t in toks} == {len(ids)}
    assert [int(t.get("cursor")) for t in toks] == list(range(0, 7 * len(toks), 7))
    assert all(t.text for t in toks[:-1]) and not toks[-1].text, "the last page carries an empty token"
    assert all(t.get("expirationDate") for t in toks[:-1])


@pytest.mark.parametrize("prefix", ["oai_dc", "mods"])
def test_a_set_harvest_has_a_true_complete_list_size(client, loaded, prefix):
    items, toks = harvest(client, "ListIdentifiers", metadataPrefix=prefix, set="stanford")
    ids = _ids(items)
    assert set(ids) == {f"oai:granary.test:{x}" for x in loaded["stanford"]} and len(ids) == len(set(ids))
    assert {int(t.get("completeListSize")) for t in toks} == {len(ids)}


def test_a_list_that_fits_one_page_has_no_token(client, loaded):
    root = oai_get(client, verb="ListIdentifiers", metadataPrefix="mods", set="princeton:ukrainian")
    assert root.find(".//oai:resumptionToken", NS) is None
    assert len(root.findall(".//oai:header", NS)) == len(loaded["princeton:ukrainian"])


def test_token_expiry_is_at_least_24_hours(client, loaded):
    from datetime import UTC, datetime

    root = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    exp = root.find(".//oai:resumptionToken", NS).get("expirationDate")
    left = datetime.strptime(exp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() - time.time()
    assert left >= 24 * 3600


def test_hierarchical_set_includes_its_subsets(client, loaded):
    items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc", set="princeton")
    expected = {f"oai:granary.test:{x}" for x in loaded["princeton"] + loaded["princeton:ukrainian"]}
    assert set(_ids(items)) == expected
    items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc", set="princeton:ukrainian")
    assert set(_ids(items)) == {f"oai:granary.test:{x}" for x in loaded["princeton:ukrainian"]}


def test_deleted_records_appear_in_lists_with_a_deleted_header(client, loaded):
    items, _ = harvest(client, "ListRecords", metadataPrefix="oai_dc", set="stanford")
    deleted = [i for i in items if i.find("oai:header", NS).get("status") == "deleted"]
    assert _ids(deleted) == ["oai:granary.test:stanford-bb013fz9675"]
    assert deleted[0].find("oai:metadata", NS) is None
    live = [i for i in items if i not in deleted]
    assert all(i.find("oai:metadata/oai_dc:dc", NS) is not None for i in live)


def test_list_sets_shows_names_descriptions_and_hierarchy(client, loaded):
    items, _ = harvest(client, "ListSets")
    by_spec = {s.findtext("oai:setSpec", namespaces=NS): s for s in items}
    assert set(by_spec) == {"dc", "princeton", "princeton:ukrainian", "stanford"}
    assert by_spec["stanford"].findtext(".//dc:description", namespaces=NS) == "Maps, manuscripts and more from SDR"
    assert by_spec["princeton"].find("oai:setDescription", NS) is None


def test_list_sets_pages_with_tokens(db_url, tmp_path, engine, registry, loaded):
    client = create_app(make_settings(db_url, tmp_path, GRANARY_PAGE_SIZE="3"), engine, registry).test_client()
    items, toks = harvest(client, "ListSets")
    assert len(items) == 4 and len(toks) == 2 and not toks[-1].text


@pytest.fixture
def dated(engine, loaded):
    """Five records at known datestamps; the rest far in the past."""
    from tests.fixtures import set_datestamp as put

    everyone = [x for v in loaded.values() for x in v]
    for local in everyone:
        put(engine, local, "2000-01-01T00:00:00Z")
    stamps = {"stanford-bb001dq8600": "2020-05-01T00:00:00Z", "stanford-bb070yy8209": "2020-05-01T12:30:00Z",
              "stanford-bb157hs6068": "2020-05-01T23:59:59Z", "stanford-bb737zp0787": "2020-05-02T00:00:00Z",
              "princeton-ukrainian-001": "2020-05-03T10:00:00Z"}
    for local, when in stamps.items():
        put(engine, local, when)
    return stamps


@pytest.mark.parametrize("params, expected", [
    ({"from": "2020-05-01", "until": "2020-05-01"},
     {"stanford-bb001dq8600", "stanford-bb070yy8209", "stanford-bb157hs6068"}),
    ({"from": "2020-05-01T12:30:00Z", "until": "2020-05-02T00:00:00Z"},
     {"stanford-bb070yy8209", "stanford-bb157hs6068", "stanford-bb737zp0787"}),
    ({"from": "2020-05-01T23:59:59Z", "until": "2020-05-01T23:59:59Z"}, {"stanford-bb157hs6068"}),
    ({"from": "2020-05-02"}, {"stanford-bb737zp0787", "princeton-ukrainian-001"}),
    ({"from": "2020-05-02", "until": "2999-12-31"}, {"stanford-bb737zp0787", "princeton-ukrainian-001"}),
    ({"from": "2020-05-03", "set": "princeton"}, {"princeton-ukrainian-001"}),
])
def test_from_and_until_are_inclusive_in_both_granularities(client, dated, params, expected):
    items, _ = harvest(client, "ListIdentifiers", metadataPrefix="oai_dc", **params)
    assert set(_ids(items)) == {f"oai:granary.test:{x}" for x in expected}


def test_from_after_until_is_bad_argument(client, dated):
    root = oai_get(client, verb="ListRecords", metadataPrefix="oai_dc", **{"from": "2020-05-02", "until": "2020-05-01"})
    assert error_codes(root) == ["badArgument"]


def test_until_before_earliest_datestamp_is_no_records_match(client, dated):
    root = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc", until="1999-12-31T23:59:59Z")
    assert error_codes(root) == ["noRecordsMatch"]


def test_datestamps_are_utc_seconds(client, dated):
    root = oai_get(client, verb="GetRecord", identifier="oai:granary.test:stanford-bb070yy8209", metadataPrefix="mods")
    assert root.findtext(".//oai:header/oai:datestamp", namespaces=NS) == "2020-05-01T12:30:00Z"


def _first_token(client, **params) -> str:
    return oai_get(client, **params).find(".//oai:resumptionToken", NS).text


def test_token_survives_a_restart_and_works_on_another_instance(db_url, tmp_path, settings, client, loaded, registry):
    token = _first_token(client, verb="ListRecords", metadataPrefix="oai_dc")
    expected, _ = harvest(client, "ListRecords", metadataPrefix="oai_dc")
    # A second process: its own engine and app, the same configuration.
    other_engine = make_engine(settings.database_url)
    other = create_app(make_settings(db_url, tmp_path), other_engine, registry).test_client()
    root = oai_get(other, verb="ListRecords", resumptionToken=token)
    assert _ids(root.findall(".//oai:record", NS)) == _ids(expected[7:14])
    other_engine.dispose()


def test_generated_secret_is_persisted_so_tokens_survive_restarts(db_url, tmp_path, engine, registry, loaded):
    env = {"GRANARY_DATABASE_URL": db_url, "GRANARY_PAGE_SIZE": "7"}
    first = Settings.from_env(env, tmp_path)
    token = _first_token(create_app(first, engine, registry).test_client(), verb="ListIdentifiers",
                         metadataPrefix="mods")
    second = Settings.from_env(env, tmp_path)
    assert second.secret_key == first.secret_key and second.secret_is_generated
    root = oai_get(create_app(second, engine, registry).test_client(), verb="ListIdentifiers", resumptionToken=token)
    assert not error_codes(root)


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize("mutate", [
    # the signature's last character carries two unused bits: flipping one spells the same bytes
    lambda t: t[:-1] + _B64URL[_B64URL.index(t[-1]) ^ 1],
    lambda t: t[:-3],
    lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],
    lambda t: t.split(".")[0],
    lambda t: t + "x",
    lambda t: "",
])
def test_tampered_tokens_are_rejected(client, loaded, mutate):
    token = _first_token(client, verb="ListRecords", metadataPrefix="oai_dc")
    bad = mutate(token)
    root = oai_get(client, verb="ListRecords", resumptionToken=bad) if bad else \
        oai_get(client, verb="ListRecords", resumptionToken="-")
    assert error_codes(root) == ["badResumptionToken"]


def test_token_of_another_verb_or_repository_is_rejected(client, settings, loaded):
    token = _first_token(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert error_codes(oai_get(client, verb="ListRecords", resumptionToken=token)) == ["badResumptionToken"]
    foreign = tokens.encode(tokens.TokenState("ListRecords", "oai_dc", None, None, None, (0, 0), 7, 99,
                                              int(time.time()) + 3600), b"another repository's key")
    assert error_codes(oai_get(client, verb="ListRecords", resumptionToken=foreign)) == ["badResumptionToken"]


def test_a_token_rewritten_to_another_set_prefix_or_verb_is_rejected(client, loaded):
    """The payload is readable (base64 JSON: the harvester's own arguments and a cursor) but
    not writable: changing the set, prefix, verb or cursor without the key breaks the signature."""
    token = _first_token(client, verb="ListRecords", metadataPrefix="oai_dc", set="stanford")
    body, sig = token.split(".")
    payload = json.loads(tokens._unb64(body))
    assert payload[1:4] == ["ListRecords", "oai_dc", "stanford"]
    for index, value in [(1, "ListIdentifiers"), (2, "mods"), (3, "princeton"), (3, None), (6, [0, 0]), (8, 1),
                         (10, payload[10] + 10**9)]:
        forged = list(payload)
        forged[index] = value
        rewritten = tokens._b64(json.dumps(forged, separators=(",", ":")).encode()) + "." + sig
        verb = "ListIdentifiers" if index == 1 else "ListRecords"
        assert error_codes(oai_get(client, verb=verb, resumptionToken=rewritten)) == ["badResumptionToken"], forged


def test_a_token_issued_before_tokens_carried_the_watermark_still_resumes(client, settings, loaded):
    """Tokens in harvesters' hands outlive an upgrade: one without the watermark field reads it afresh."""
    first = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    token = first.findtext(".//oai:resumptionToken", namespaces=NS)
    payload = json.loads(tokens._unb64(token.split(".")[0]))
    assert len(payload) == 11 and payload[10] > 0
    old = json.dumps(payload[:10], separators=(",", ":")).encode()
    old_token = f"{tokens._b64(old)}.{tokens._b64(tokens._sign(settings.secret_key, old))}"
    resumed = oai_get(client, verb="ListIdentifiers", resumptionToken=old_token)
    current = oai_get(client, verb="ListIdentifiers", resumptionToken=token)
    assert _ids(resumed.findall(".//oai:header", NS)) == _ids(current.findall(".//oai:header", NS))
    assert len(_ids(resumed.findall(".//oai:header", NS))) > 0


def test_expired_token_is_rejected(client, settings, loaded):
    expired = tokens.encode(tokens.TokenState("ListRecords", "oai_dc", None, None, None, (0, 0), 7, 99,
                                              int(time.time()) - 1), settings.secret_key)
    root = oai_get(client, verb="ListRecords", resumptionToken=expired)
    assert error_codes(root) == ["badResumptionToken"]
    assert "expired" in root.findtext("oai:error", namespaces=NS)


def test_set_and_date_filters_carry_across_pages(client, loaded, engine):
    for local in loaded["stanford"][:10]:
        set_datestamp(engine, local, "2010-01-01T00:00:00Z")
    items, toks = harvest(client, "ListIdentifiers", metadataPrefix="mods", set="stanford", until="2010-12-31")
    assert set(_ids(items)) == {f"oai:granary.test:{x}" for x in loaded["stanford"][:10]}
    assert len(toks) == 2
