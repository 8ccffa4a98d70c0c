"""Characters XML 1.0 can carry: anything else must never reach a document we write."""
from __future__ import annotations

import re

_NOT_XML_CHAR = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def has_non_xml_chars(value: str) -> bool:
    return bool(_NOT_XML_CHAR.search(value))


def strip_non_xml_chars(value: str) -> str:
    """`value` with each character XML cannot carry replaced by U+FFFD (for messages)."""
    return _NOT_XML_CHAR.sub("\ufffd", value)
