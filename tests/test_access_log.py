"""The access log writes, for gunicorn's default format, the very line gunicorn would."""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from repository.access_log import AccessLogger


@dataclass
class Response:
    status: object = "200 OK"
    sent: int | None = 2345
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "text/xml; charset=utf-8")])


@dataclass
class Request:
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("HOST", "127.0.0.1:5000")])


def _environ(**extra: str) -> dict[str, str]:
    return {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
            "RAW_URI": "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:x:110365",
            "PATH_INFO": "/oai", "QUERY_STRING": "verb=GetRecord", **extra}


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _logged(cls: type[Logger], fmt: str | None, resp: Response, environ: dict) -> str:
    cfg = Config()
    cfg.set("accesslog", "-")
    if fmt is not None:
        cfg.set("access_log_format", fmt)
    log = cls(cfg)
    lines = Lines()
    log.access_log.handlers = [lines]
    log.now = lambda: "[28/Nov/2026:16:00:00 +0000]"  # both read the clock; the line must not differ by it
    log.access(resp, Request(), environ, timedelta(microseconds=1234))
    [line] = lines.lines
    return line


CASES = {
    "a plain GetRecord": (Response(), _environ(HTTP_USER_AGENT="Sickle/0.7.0")),
    "quotes and a percent sign from the client": (
        Response(), _environ(RAW_URI='/oai?verb="List%25Records"', HTTP_USER_AGENT='bot "quoted" 100%',
                             HTTP_REFERER='http://example.org/"x"')),
    "a Basic-auth user": (Response(), _environ(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b'li"b:pw').decode())),
    "no body sent and an int status": (Response(status=304, sent=None), _environ()),
    "an empty body": (Response(status="503 Service Unavailable", sent=0), _environ(REMOTE_ADDR="10.0.0.7")),
    "no client address": (Response(), {k: v for k, v in _environ().items() if k != "REMOTE_ADDR"}),
}


@pytest.mark.parametrize("case", CASES)
def test_the_default_line_is_gunicorns(case):
    resp, environ = CASES[case]
    assert _logged(AccessLogger, None, resp, environ) == _logged(Logger, None, resp, environ)


def test_another_format_is_left_to_gunicorn():
    fmt = '%(h)s "%(r)s" %(s)s %(D)s %({x-forwarded-for}i)s %({content-type}o)s'
    resp, environ = CASES["a plain GetRecord"]
    line = _logged(AccessLogger, fmt, resp, environ)
    assert line == _logged(Logger, fmt, resp, environ)
    assert line.endswith(" 1234 - text/xml; charset=utf-8")


def test_nothing_is_written_with_the_access_log_off():
    cfg = Config()
    log = AccessLogger(cfg)
    lines = Lines()
    log.access_log.handlers = [lines]
    log.access(Response(), Request(), _environ(), timedelta(0))
    assert lines.lines == []
