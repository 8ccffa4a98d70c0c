"""Canonical serialization: the same metadata must give the same bytes, however the source
spelled prefixes, ordered attributes, indented, or commented it (a datestamp moves on any
byte of difference)."""
from __future__ import annotations

import pytest

from crosswalks.registry import default_registry
from metadata.formats import MODS_NS
from metadata.safe_xml import parse_xml

MODS = default_registry().format("mods")

_PLAIN = (f'<mods xmlns="{MODS_NS}" version="3.8"><titleInfo><title>Letter</title></titleInfo>'
          '<name type="personal"><namePart type="family">Gao</namePart></name></mods>')


def _bytes(xml: str) -> bytes:
    return MODS.serialize(parse_xml(xml.encode(), "test").getroot())


@pytest.mark.parametrize("space", [" ", "\n\t  ", "\u00a0", "\u2003 \u00a0"])
def test_whitespace_before_a_first_child_is_indentation(space):
    # Python's notion of whitespace (no-break and em spaces included), as lxml's indent has it.
    spaced = _PLAIN.replace("<titleInfo>", f"<titleInfo>{space}").replace('version="3.8">', f'version="3.8">{space}')
    assert _bytes(spaced) == _bytes(_PLAIN)


def test_prefixes_attribute_order_and_comments_do_not_matter():
    foreign = (f'<m:mods xmlns:m="{MODS_NS}" version="3.8"><!-- exported --><m:titleInfo><m:title>Letter'
               '</m:title><?pi x?></m:titleInfo><m:name type="personal"><m:namePart type="family">Gao'
               '</m:namePart></m:name></m:mods>')
    assert _bytes(foreign) == _bytes(_PLAIN)
    shuffled = _PLAIN.replace('<name type="personal">', '<name xlink:href="http://x" type="personal" '
                              'authority="naf" xmlns:xlink="http://www.w3.org/1999/xlink">')
    ordered = _PLAIN.replace('<name type="personal">', '<name authority="naf" type="personal" '
                             'xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="http://x">')
    assert _bytes(shuffled) == _bytes(ordered)
    assert b'authority="naf" type="personal" xlink:href="http://x"' in _bytes(shuffled)


def test_text_that_is_not_only_whitespace_is_kept():
    assert b"<mods:title> Letter </mods:title>" in _bytes(_PLAIN.replace("<title>Letter", "<title> Letter "))
    assert b"<mods:titleInfo>x<mods:title>" in _bytes(_PLAIN.replace("<titleInfo>", "<titleInfo>x"))
