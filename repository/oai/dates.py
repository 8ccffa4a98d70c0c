"""UTCdatetime arguments and datestamps, in both granularities the repository supports.

Spec 3.3.1: `from` and `until` are YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ; both ends
are inclusive, so a day-granularity `until` covers the whole day and a seconds
`until` the whole second. Stamps are microseconds; bounds come back as
[from_us, until_us) so queries need no special cases.
"""
from __future__ import annotations

import contextlib
import re
import time
from datetime import UTC, datetime

from repository.oai.errors import Code, OAIError

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_US = 1_000_000


def _to_us(dt: datetime) -> int:
    return int(dt.replace(tzinfo=UTC).timestamp()) * _US


def parse_bound(name: str, value: str) -> tuple[int, int, str]:
    """(start_us, end_us_exclusive, granularity) of the day or second `value` names."""
    with contextlib.suppress(ValueError):  # a pattern that matches but names no real date
        if _DAY.match(value):
            start = _to_us(datetime.strptime(value, "%Y-%m-%d"))
            return start, start + 86_400 * _US, "day"
        if _SECONDS.match(value):
            sec = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
            return _to_us(sec), _to_us(sec) + _US, "seconds"
    raise OAIError(Code.BAD_ARGUMENT,
                   f"{name}={value!r} is not a UTCdatetime (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)")


def parse_range(from_: str | None, until: str | None) -> tuple[int | None, int | None]:
    """[from_us, until_us) for a selective harvest, checking granularities and order."""
    f = parse_bound("from", from_) if from_ is not None else None
    u = parse_bound("until", until) if until is not None else None
    if f and u:
        if f[2] != u[2]:
            raise OAIError(Code.BAD_ARGUMENT, "from and until must have the same granularity")
        if f[0] > u[0]:
            raise OAIError(Code.BAD_ARGUMENT, f"from ({from_}) is later than until ({until})")
    return (f[0] if f else None), (u[1] if u else None)


def datestamp(stamp_us: int) -> str:
    """The OAI datestamp (seconds granularity) of a stamp."""
    return datetime.fromtimestamp(stamp_us // _US, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_now: tuple[int, str] = (-1, "")  # (second, its datestamp): strftime is a measurable share of a GetRecord


def now_datestamp() -> str:
    global _now
    second, cached = int(time.time()), _now
    if second != cached[0]:
        cached = _now = (second, datestamp(second * _US))
    return cached[1]
