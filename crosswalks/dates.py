"""Recognising W3CDTF dates and periods in free DC text.

DC -> MODS may only claim encoding="w3cdtf" for a value that really is one
(a false claim breaks every consumer that parses it), and dc:coverage values
must be sorted into MODS temporal or geographic subjects.
"""
from __future__ import annotations

import datetime as dt
import re

_W3CDTF = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                     r"(Z|[+-](\d{2}):(\d{2})))?)?)?")
_PERIOD = re.compile(r"(?:\d{1,4}s?|\d{1,2}(?:st|nd|rd|th) century)(?:\s*(?:-|–|/|to)\s*(?:\d{1,4}s?|"
                     r"\d{1,2}(?:st|nd|rd|th) century))?( (?:BC|BCE|AD|CE))?", re.I)
_DCMI_PERIOD = re.compile(r"(?:^|;)\s*(?:start|end|name|scheme)=", re.I)


def is_w3cdtf(value: str) -> bool:
    m = _W3CDTF.fullmatch(value)
    if not m:
        return False
    year, month, day, hour, minute, second, _, tzh, tzm = m.groups()
    try:
        dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return False
    return ((hour is None or (int(hour) < 24 and int(minute) < 60 and int(second or 0) < 60))
            and (tzh is None or (int(tzh) < 24 and int(tzm) < 60)))


def w3cdtf_interval(value: str) -> tuple[str, str] | None:
    """(start, end) when `value` is `start/end` with both ends W3CDTF."""
    start, sep, end = value.partition("/")
    return (start, end) if sep and is_w3cdtf(start) and is_w3cdtf(end) else None


def looks_temporal(value: str) -> bool:
    """A coverage value that names a time (a date, a period, a century, a DCMI Period) rather than a place."""
    return (is_w3cdtf(value) or w3cdtf_interval(value) is not None or bool(_PERIOD.fullmatch(value))
            or bool(_DCMI_PERIOD.search(value)))
