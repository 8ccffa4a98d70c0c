"""Arbitrary requests never break the endpoint: always HTTP 200, always a schema-valid response."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tests.fixtures import load_corpus
from tests.oai import valid_response

VERBS = ["Identify", "GetRecord", "ListIdentifiers", "ListRecords", "ListMetadataFormats", "ListSets"]
KEYS = ["verb", "metadataPrefix", "identifier", "from", "until", "set", "resumptionToken"]
VALUES = st.one_of(
    st.sampled_from(VERBS + ["oai_dc", "mods", "marc21", "stanford", "princeton:ukrainian", "2020-01-01",
                             "2020-01-01T00:00:00Z", "9999-12-31", "0000-00-00", "oai:granary.test:fsu-x",
                             "oai:granary.test:stanford-bb001dq8600", ""]),
    st.text(max_size=40),
    # Every code point a URL can carry: a lone surrogate has no UTF-8 form, so no request holds one.
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=("Cs",)),
            max_size=20),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.integers().map(str),
)
PAIRS = st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), VALUES), max_size=6)


@pytest.fixture
def loaded_client(settings, engine, registry, client):
    load_corpus(settings, engine, registry)
    return client


def _encode(pairs) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=PAIRS)
def test_any_query_string_gets_a_valid_oai_response(loaded_client, pairs):
    resp = loaded_client.get("/oai?" + _encode(pairs))
    assert resp.status_code == 200
    valid_response(resp.data)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=PAIRS, raw=st.binary(max_size=60))
def test_any_post_body_gets_a_valid_oai_response(loaded_client, pairs, raw):
    for body in (_encode(pairs).encode(), raw):
        resp = loaded_client.post("/oai", data=body, content_type="application/x-www-form-urlencoded")
        assert resp.status_code == 200
        valid_response(resp.data)


@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_resumption_tokens_are_refused_cleanly(loaded_client, data):
    first = loaded_client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc").data
    token = first.split(b"<resumptionToken", 1)[1].split(b">", 1)[1].split(b"<", 1)[0].decode()
    pos = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.",
                                     min_size=0, max_size=3))
    mutated = token[:pos] + replacement + token[pos + 1:]
    resp = loaded_client.get("/oai", query_string={"verb": "ListRecords", "resumptionToken": mutated})
    assert resp.status_code == 200
    root = valid_response(resp.data)
    if mutated != token:
        assert root.find("{http://www.openarchives.org/OAI/2.0/}error").get("code") == "badResumptionToken"
