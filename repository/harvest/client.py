"""An OAI-PMH 2.0 client over HTTP GET, with bounded retries.

Every request is retried, with exponential backoff, on what is usually
passing: 503 (honouring Retry-After, in seconds or as an HTTP date), 429, any
other 5xx, and network failures (refused or reset connections, timeouts,
truncated bodies). The wait is capped, and so is the number of attempts, so a
harvest never hangs. Everything else fails at once: a 4xx without an OAI-PMH
body, a body that is not XML or not OAI-PMH. OAI-PMH errors become typed
exceptions; `noRecordsMatch` is how a list that is empty ends, not a failure.

Bodies go through the safe parser (no DTDs, no entities, bounded size).
Responses may come gzip- or deflate-compressed (we ask for them). The size
limit holds at every step: a Content-Length over it is refused before the body
is read, no more than the limit is ever read, and a compressed body is
unpacked only up to the limit (a megabyte of gzip can unpack to gigabytes).
"""
from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

from lxml import etree

from metadata.errors import XMLInputError
from metadata.safe_xml import DEFAULT_MAX_BYTES, parse_xml

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_O = f"{{{OAI_NS}}}"
USER_AGENT = "Granary-harvester/1.0 (OAI-PMH 2.0)"

Opener = Callable[[urllib.request.Request, float], object]  # (request, timeout) -> response
Sleep = Callable[[float], None]


class HarvestError(Exception):
    """A harvest cannot go on; the message says why, for a librarian."""


class TransportError(HarvestError):
    """The repository could not be reached, or kept failing, after every retry."""


class ResponseError(HarvestError):
    """The repository answered with something that is not a usable OAI-PMH response."""


class OAIProtocolError(HarvestError):
    """An OAI-PMH <error> in the response."""

    def __init__(self, code: str, message: str, url: str, response_date: str | None = None) -> None:
        self.code = code
        self.message = message
        self.url = url
        self.response_date = response_date
        super().__init__(f"{url}: OAI-PMH error {code}: {message}" if message else f"{url}: OAI-PMH error {code}")


class NoRecordsMatch(OAIProtocolError):
    """The list is empty: a harvest with nothing new ends normally."""


class BadResumptionToken(OAIProtocolError):
    """The token expired or is unknown upstream: the list must start again."""


_ERRORS: dict[str, type[OAIProtocolError]] = {"noRecordsMatch": NoRecordsMatch,
                                              "badResumptionToken": BadResumptionToken}


@dataclass(frozen=True)
class Response:
    url: str
    root: etree._Element
    response_date: str

    def verb_element(self, verb: str) -> etree._Element | None:
        return self.root.find(f"{_O}{verb}")


@dataclass(frozen=True)
class Page:
    """One page of a ListRecords list."""

    url: str
    response_date: str
    records: list[etree._Element]
    token: str | None           # None: the last page
    complete_list_size: int | None = None


def _text(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _default_opener() -> Opener:
    opener = urllib.request.build_opener()
    return lambda req, timeout: opener.open(req, timeout=timeout)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """`data` decompressed, but never more than `limit` + 1 bytes of it (enough to tell it is
    over the limit). Concatenated gzip members are read one after another, as gzip does."""
    out = bytearray()
    while True:
        unpacker = zlib.decompressobj(wbits)
        out += unpacker.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            return bytes(out)
        if not unpacker.eof:
            raise zlib.error("the compressed stream is truncated")
        data = unpacker.unused_data
        if wbits <= zlib.MAX_WBITS or not data.strip(b"\0"):
            return bytes(out)


def _decode(data: bytes, encoding: str | None, url: str, limit: int) -> bytes:
    encoding = (encoding or "").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return _inflate(data, 16 + zlib.MAX_WBITS, limit)
        if encoding == "deflate":
            try:
                return _inflate(data, zlib.MAX_WBITS, limit)
            except zlib.error:
                return _inflate(data, -zlib.MAX_WBITS, limit)  # raw deflate, as some servers send
    except zlib.error as exc:
        raise _Transient(f"{url}: the {encoding} body could not be decompressed ({exc})") from None
    return data


class _Transient(Exception):
    """A failure worth another attempt; `wait` is what the server asked for, if anything."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        self.wait = wait
        super().__init__(message)


class Client:
    """OAI-PMH requests to one base URL.

    `opener(request, timeout)` and `sleep(seconds)` can be replaced (tests inject
    failures and skip the waiting). Waits are `backoff * 2**n` seconds, or the
    server's Retry-After, never more than `max_wait`; `attempts` bounds the tries.
    """

    def __init__(self, base_url: str, *, timeout: float = 60.0, attempts: int = 6, backoff: float = 2.0,
                 max_wait: float = 300.0, max_bytes: int = DEFAULT_MAX_BYTES, opener: Opener | None = None,
                 sleep: Sleep = time.sleep, on_retry: Callable[[str, float], None] | None = None) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_bytes = max_bytes
        self.opener = opener or _default_opener()
        self.sleep = sleep
        self.on_retry = on_retry
        self.retries = 0

    def url(self, params: dict[str, str]) -> str:
        sep = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{sep}{urlencode(params)}"

    # --- transport -----------------------------------------------------------------------

    def _fetch_once(self, url: str) -> tuple[int, bytes]:
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate",
                                                   "Accept": "text/xml, application/xml"})
        try:
            resp = self.opener(req, self.timeout)
            try:
                status = getattr(resp, "status", None) or resp.getcode()
                declared = (resp.headers.get("Content-Length") or "").strip()
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise ResponseError(f"{url}: the response is {int(declared):,} bytes (Content-Length), over "
                                        f"the limit of {self.max_bytes:,}; it was not read")
                data = resp.read(self.max_bytes + 1)
                encoding = resp.headers.get("Content-Encoding")
            finally:
                close = getattr(resp, "close", None)
                if close:
                    close()
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                body = _decode(exc.read(self.max_bytes + 1) or b"", exc.headers.get("Content-Encoding"), url,
                               self.max_bytes)
            except (OSError, http.client.HTTPException, _Transient):
                body = b""
            if status in (429, 503) or status >= 500:
                wait = retry_after_seconds(exc.headers.get("Retry-After")) if status in (429, 503) else None
                raise _Transient(f"{url}: HTTP {status}", wait) from None
            return status, body
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise _Transient(f"{url}: {type(exc).__name__}: {reason}") from None
        if len(data) > self.max_bytes:
            return status, data  # refused by its size as it is: no use unpacking what is cut off
        return status, _decode(data, encoding, url, self.max_bytes)

    def _fetch(self, url: str) -> tuple[int, bytes]:
        for attempt in range(1, self.attempts + 1):
            try:
                return self._fetch_once(url)
            except _Transient as exc:
                if attempt == self.attempts:
                    raise TransportError(f"{exc} (gave up after {self.attempts} attempts)") from None
                wait = exc.wait if exc.wait is not None else self.backoff * 2 ** (attempt - 1)
                wait = min(max(wait, 0.0), self.max_wait)
                self.retries += 1
                if self.on_retry:
                    self.on_retry(str(exc), wait)
                self.sleep(wait)
        raise AssertionError("unreachable")

    # --- protocol ------------------------------------------------------------------------

    def request(self, **params: str) -> Response:
        """One OAI-PMH request; OAI errors raise, a usable response returns."""
        url = self.url(params)
        status, data = self._fetch(url)
        if len(data) > self.max_bytes:
            raise ResponseError(f"{url}: the response is over the limit of {self.max_bytes:,} bytes")
        try:
            root = parse_xml(data, url, self.max_bytes).getroot()
        except XMLInputError as exc:
            detail = f"HTTP {status}; " if status != 200 else ""
            where = f"line {exc.line}: " if exc.line else ""
            raise ResponseError(f"{url}: {detail}the response is not usable XML: {where}{exc.message}") from None
        if root.tag != f"{_O}OAI-PMH":
            raise ResponseError(f"{url}: HTTP {status}; the response is not OAI-PMH (root element {root.tag})")
        response_date = _text(root.find(f"{_O}responseDate"))
        errors = root.findall(f"{_O}error")
        if errors:
            code = errors[0].get("code", "")
            raise _ERRORS.get(code, OAIProtocolError)(code, _text(errors[0]), url, response_date)
        if status != 200:
            raise ResponseError(f"{url}: HTTP {status} with an OAI-PMH response that reports no error")
        if not response_date:
            raise ResponseError(f"{url}: the response has no responseDate")
        return Response(url, root, response_date)

    def identify(self) -> Response:
        return self.request(verb="Identify")

    def list_records(self, prefix: str | None = None, set_spec: str | None = None, from_: str | None = None,
                     token: str | None = None) -> Page:
        """The first page of a list, or (with `token`) the page that token continues to."""
        if token is not None:
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": prefix or "oai_dc"}
            if set_spec:
                params["set"] = set_spec
            if from_:
                params["from"] = from_
        resp = self.request(**params)
        body = resp.verb_element("ListRecords")
        if body is None:
            raise ResponseError(f"{resp.url}: the response has no ListRecords element")
        tok = body.find(f"{_O}resumptionToken")
        size = tok.get("completeListSize") if tok is not None else None
        return Page(resp.url, resp.response_date, body.findall(f"{_O}record"),
                    _text(tok) or None, int(size) if size and size.isdigit() else None)
