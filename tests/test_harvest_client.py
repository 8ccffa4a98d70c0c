"""The harvest client and provenance containers, against saved real responses served locally.

A stub WSGI app serves files of CORPUS/responses as an upstream repository
would (resumption tokens map to the next saved page), and can be told to
answer 503 with a Retry-After, or 500, first. Waits go through an injected
sleep, so nothing here actually waits.
"""
from __future__ import annotations

import gzip
import itertools
import threading
import urllib.error
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from lxml import etree

from repository.harvest import provenance
from repository.harvest.client import (
    BadResumptionToken,
    Client,
    NoRecordsMatch,
    OAIProtocolError,
    ResponseError,
    TransportError,
    retry_after_seconds,
)
from repository.harvest.run import local_id_for
from tests.live import serving
from tests.shared import CORPUS, official_schemas

RESPONSES = CORPUS / "responses"
OAI = "{http://www.openarchives.org/OAI/2.0/}"


def token_chain(*names: str) -> dict[str | None, Path]:
    """resumptionToken -> the saved page it leads to: each page's token leads to the next file.
    (The recorded pages do not always agree: Zenodo's first token was shortened when saved.)"""
    pages: dict[str | None, Path] = {None: RESPONSES / names[0]}
    for name, following in itertools.pairwise(names):
        token = etree.parse(str(RESPONSES / name)).getroot().find(f"{OAI}ListRecords/{OAI}resumptionToken")
        pages[token.text.strip()] = RESPONSES / following
    return pages


SICKLE = {None: RESPONSES / "sickle-ListRecords.xml", "ListRecords2.xml": RESPONSES / "sickle-ListRecords2.xml",
          "ListRecords3.xml": RESPONSES / "sickle-ListRecords3.xml",
          "ListRecords4.xml": RESPONSES / "sickle-ListRecords4.xml"}
ZENODO = token_chain("zenodo-ListRecords-metadataPrefix_oai_dc.xml", "zenodo-ListRecords-page2.xml",
                     "zenodo-ListRecords-page3.xml")


class Stub:
    """A saved-response upstream: ListRecords pages by token, Identify, and injected failures."""

    def __init__(self, pages: dict[str | None, Path], identify: Path = RESPONSES / "sickle-Identify.xml") -> None:
        self.pages = dict(pages)
        self.identify = identify
        self.failures: list[tuple[str, list[tuple[str, str]]]] = []   # (status, headers) answered first
        self.requests: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        args = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        with self.lock:
            self.requests.append(args)
            failure = self.failures.pop(0) if self.failures else None
        if failure:
            start_response(failure[0], [("Content-Type", "text/plain"), *failure[1]])
            return [b"try again later"]
        if args.get("verb") == "Identify":
            body = self.identify.read_bytes()
        elif "resumptionToken" in args and args["resumptionToken"] not in self.pages:
            body = (RESPONSES / "sickle-badResumptionToken.xml").read_bytes()
        else:
            body = self.pages[args.get("resumptionToken")].read_bytes()
        headers = [("Content-Type", "text/xml; charset=utf-8")]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    def list_requests(self) -> list[dict[str, str]]:
        return [r for r in self.requests if r.get("verb") == "ListRecords"]


@pytest.fixture
def serve():
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(serving(app)) + "/oai"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_follows_resumption_tokens_to_the_end(serve):
    stub = Stub(ZENODO, RESPONSES / "zenodo-Identify.xml")
    client = Client(serve(stub))
    page = client.list_records("oai_dc")
    seen = [page]
    while page.token:
        page = client.list_records(token=page.token)
        seen.append(page)
    assert len(seen) == 3 and seen[-1].token is None
    assert [len(p.records) for p in seen] == [3, 3, 3]
    assert seen[0].complete_list_size == 3755279
    assert seen[0].response_date.endswith("Z")


def test_asks_for_gzip_and_decodes_it(serve):
    stub = Stub(SICKLE)
    seen_encodings = []

    def app(environ, start_response):
        seen_encodings.append(environ.get("HTTP_ACCEPT_ENCODING"))
        return stub(environ, start_response)

    page = Client(serve(app)).list_records("oai_dc")
    assert "gzip" in seen_encodings[0]
    assert page.token == "ListRecords2.xml"


def test_503_with_retry_after_seconds_is_waited_out(serve):
    stub = Stub(SICKLE)
    stub.failures = [("503 Service Unavailable", [("Retry-After", "2")])] * 2
    sleeps = Sleeps()
    page = Client(serve(stub), sleep=sleeps).list_records("oai_dc")
    assert sleeps == [2.0, 2.0]
    assert len(stub.list_requests()) == 3 and page.records


def test_retry_after_is_capped_and_http_dates_are_understood(serve):
    stub = Stub(SICKLE)
    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    stub.failures = [("503 Service Unavailable", [("Retry-After", later)])]
    sleeps = Sleeps()
    Client(serve(stub), sleep=sleeps, max_wait=30).list_records("oai_dc")
    assert sleeps == [30]
    assert 7000 < retry_after_seconds(later) <= 7200
    assert retry_after_seconds("not a date") is None and retry_after_seconds("120") == 120


def test_5xx_backs_off_exponentially_then_gives_up(serve):
    stub = Stub(SICKLE)
    stub.failures = [("500 Internal Server Error", [])] * 10
    sleeps = Sleeps()
    with pytest.raises(TransportError, match="gave up after 4 attempts"):
        Client(serve(stub), sleep=sleeps, attempts=4, backoff=0.5).list_records("oai_dc")
    assert sleeps == [0.5, 1.0, 2.0]


def test_network_errors_are_retried():
    calls = []

    def opener(req, timeout):
        calls.append(req.full_url)
        if len(calls) < 3:
            raise urllib.error.URLError(ConnectionRefusedError("refused"))
        raise TimeoutError("timed out")

    sleeps = Sleeps()
    with pytest.raises(TransportError, match="TimeoutError"):
        Client("http://upstream.invalid/oai", opener=opener, sleep=sleeps, attempts=3).list_records("oai_dc")
    assert len(calls) == 3 and len(sleeps) == 2


def test_oai_errors_are_typed(serve):
    def answering(name):
        return Stub({None: RESPONSES / name})

    with pytest.raises(NoRecordsMatch) as exc:
        Client(serve(answering("sickle-noRecordsMatch.xml"))).list_records("oai_dc")
    assert exc.value.response_date
    with pytest.raises(BadResumptionToken):
        Client(serve(Stub(SICKLE))).list_records(token="expired")
    with pytest.raises(OAIProtocolError) as exc:
        Client(serve(answering("sickle-badArgument.xml"))).list_records("oai_dc")
    assert exc.value.code == "badArgument"


def test_a_body_that_is_not_xml_is_a_clear_error(serve):
    with pytest.raises(ResponseError, match="not usable XML"):
        Client(serve(Stub({None: RESPONSES / "sickle-ListRecordsBroken.xml"}))).list_records("oai_dc")


# --- local identifiers -----------------------------------------------------------------------

@pytest.mark.parametrize(("identifier", "local"), [
    ("oai:zenodo.org:10357859", "10357859"),
    ("oai:arXiv.org:hep-th/9901001", "hep-th/9901001"),
    ("oai:the.european.library.UMr8:oai:scholarworks.umt.edu:goedicke-1008",
     "oai:scholarworks.umt.edu:goedicke-1008"),
    ("hdl:1765/315", "hdl:1765/315"),          # not oai-identifier syntax: kept whole
    ("urn:x y", "urn:x%20y"),                   # escaped like every local identifier
])
def test_local_identifier_rule(identifier, local):
    assert local_id_for(identifier) == local


# --- provenance ------------------------------------------------------------------------------

def _provenance_schema():
    return official_schemas().load("provenance.xsd")


def _provenance_element(about: bytes) -> etree._Element:
    return etree.fromstring(about)[0]


def test_provenance_container_is_valid_and_canonical():
    origin = provenance.Origin("http://upstream.example/oai?x=1&y=2", "oai:upstream.example:1",
                               "2024-01-02T03:04:05Z", "http://www.loc.gov/mods/v3", "2024-05-06T07:08:09Z")
    about = provenance.about_container(origin)
    _provenance_schema().assertValid(_provenance_element(about))
    assert about == provenance.about_container(origin)
    assert b'altered="false"' in about and b"x=1&amp;y=2" in about
    assert provenance.origin_of(about) == origin


def test_upstream_provenance_is_nested_inside_ours():
    root = etree.parse(str(RESPONSES / "oai-spec-ex-sec2.5.xml")).getroot()
    record = root.find(f"{OAI}ListRecords/{OAI}record")
    previous = provenance.upstream_origin(record.iterfind(f"{OAI}about"))
    assert previous == provenance.Origin("http://the.oa.org", "oai:r2:klik001", "2002-01-01",
                                         "http://www.openarchives.org/OAI/2.0/oai_dc/", "2002-02-02T14:10:02Z", True)
    ours = provenance.Origin("http://an.oa.org/OAI-script", "oai:arXiv:cs/0112017", "2002-02-28",
                             "http://www.openarchives.org/OAI/2.0/oai_dc/", "2002-06-01T19:20:30Z", False, previous)
    prov = _provenance_element(provenance.about_container(ours))
    _provenance_schema().assertValid(prov)
    P = "{http://www.openarchives.org/OAI/2.0/provenance}"
    outer = prov.find(f"{P}originDescription")
    inner = outer.find(f"{P}originDescription")
    assert outer.findtext(f"{P}baseURL") == "http://an.oa.org/OAI-script"
    assert inner.findtext(f"{P}baseURL") == "http://the.oa.org" and inner.get("altered") == "true"


def test_derived_formats_say_altered_on_the_outer_description_only():
    inner = provenance.Origin("http://b/oai", "oai:b:1", "2001-01-01", "ns", "2002-01-01", False)
    about = provenance.about_container(provenance.Origin("http://a/oai", "oai:a:1", "2003-01-01", "ns",
                                                         "2004-01-01", False, inner))
    altered = provenance.as_altered(about)
    prov = _provenance_element(altered)
    _provenance_schema().assertValid(prov)
    P = "{http://www.openarchives.org/OAI/2.0/provenance}"
    assert prov.find(f"{P}originDescription").get("altered") == "true"
    assert prov.find(f"{P}originDescription/{P}originDescription").get("altered") == "false"


def test_compact_upstream_dates_are_repaired():
    assert provenance.utc_date("20210311") == "2021-03-11"
    assert provenance.utc_date("2021-03-11T10:00:00Z") == "2021-03-11T10:00:00Z"
    assert provenance.utc_date("yesterday") is None
