"""The columns a spreadsheet may have, as data; docs/csv-import.md describes the same table.

A header is the identity column `id`, one of the 15 Dublin Core element names,
or a MODS path from `MODS_PATHS`, optionally with the predicates that path
allows (`name[@type=personal][role/roleTerm=author]/namePart`). Parsing a
header gives a `Column`; every mistake gives a message that says what is
allowed instead.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from crosswalks.vocab import DC_ELEMENTS, TYPE_OF_RESOURCE_TO_DCMI

ID_COLUMN = "id"
ROLE = "role/roleTerm"  # the one predicate that is not an attribute: the name's role

# Plain MODS path -> the predicates each step may carry ({step: (attribute, ...)}).
# The order of this table is the order children are written in (location's children
# form an xs:sequence in the schema; elsewhere the order only keeps bytes stable).
MODS_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "titleInfo/nonSort": {"titleInfo": ("type", "lang")},
    "titleInfo/title": {"titleInfo": ("type", "lang")},
    "titleInfo/subTitle": {"titleInfo": ("type", "lang")},
    "titleInfo/partNumber": {"titleInfo": ("type", "lang")},
    "titleInfo/partName": {"titleInfo": ("type", "lang")},
    "name/namePart": {"name": ("type", ROLE, "lang")},
    "typeOfResource": {},
    "genre": {"genre": ("authority", "lang")},
    "originInfo/place/placeTerm": {},
    "originInfo/publisher": {},
    "originInfo/dateIssued": {},
    "originInfo/dateCreated": {},
    "originInfo/dateCaptured": {},
    "originInfo/copyrightDate": {},
    "originInfo/edition": {},
    "language/languageTerm": {},
    "physicalDescription/form": {},
    "physicalDescription/extent": {},
    "physicalDescription/internetMediaType": {},
    "physicalDescription/digitalOrigin": {},
    "abstract": {"abstract": ("lang",)},
    "tableOfContents": {"tableOfContents": ("lang",)},
    "note": {"note": ("type", "lang")},
    "subject/topic": {"subject": ("authority", "lang")},
    "subject/geographic": {"subject": ("authority", "lang")},
    "subject/temporal": {"subject": ("authority", "lang")},
    "subject/genre": {"subject": ("authority", "lang")},
    "subject/name/namePart": {"subject": ("authority", "lang"), "name": ("type",)},
    "classification": {"classification": ("authority",)},
    "relatedItem/titleInfo/title": {"relatedItem": ("type",)},
    "relatedItem/identifier": {"relatedItem": ("type",), "identifier": ("type",)},
    "relatedItem/location/url": {"relatedItem": ("type",)},
    "identifier": {"identifier": ("type",)},  # plain `identifier` is the DC element; MODS needs [@type=…]
    "location/physicalLocation": {},
    "location/shelfLocator": {},
    "location/url": {},
    "accessCondition": {"accessCondition": ("type", "lang")},
}

# Attributes whose values the schema enumerates: checked when the header is read, not once per row.
ATTRIBUTE_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("titleInfo", "type"): ("abbreviated", "translated", "alternative", "uniform"),
    ("name", "type"): ("personal", "corporate", "conference", "family"),
    ("relatedItem", "type"): ("preceding", "succeeding", "original", "host", "constituent", "series",
                              "otherVersion", "otherFormat", "isReferencedBy", "references", "reviewOf"),
}

# How the values of the columns under one top-level element become elements:
#   "one"     - a single element holds every value (one originInfo for the record);
#   "aligned" - the n-th value of each column goes to the n-th element (a title and its subtitle);
#   otherwise each value is an element of its own (each subject is one heading, each name one name).
CONTAINER_MODE: dict[str, str] = {
    "originInfo": "one", "physicalDescription": "one", "location": "one",
    "titleInfo": "aligned", "relatedItem": "aligned",
}

# Top-level order of a built record (the crosswalk's order, extended).
TOP_ORDER: tuple[str, ...] = (
    "titleInfo", "name", "typeOfResource", "genre", "originInfo", "language", "physicalDescription",
    "abstract", "tableOfContents", "note", "subject", "classification", "relatedItem", "identifier",
    "location", "accessCondition", "recordInfo")

TYPES_OF_RESOURCE: tuple[str, ...] = tuple(TYPE_OF_RESOURCE_TO_DCMI)
DATE_ELEMENTS = frozenset({"dateIssued", "dateCreated", "dateCaptured", "copyrightDate"})

# MARC relator terms and codes for the roles a spreadsheet most often names. A role in this
# table is written as both term and code (as the demo records do); any other role as text.
MARC_RELATORS: dict[str, str] = {
    "addressee": "rcp", "architect": "arc", "artist": "art", "author": "aut", "cartographer": "ctg",
    "compiler": "com", "composer": "cmp", "contributor": "ctb", "creator": "cre", "depicted": "dpc",
    "editor": "edt", "honoree": "hnr", "illustrator": "ill", "interviewee": "ive", "interviewer": "ivr",
    "lyricist": "lyr", "photographer": "pht", "printer": "prt", "publisher": "pbl", "recipient": "rcp",
    "speaker": "spk", "thesis advisor": "ths", "translator": "trl", "degree grantor": "dgg",
    "sponsor": "spn", "performer": "prf", "producer": "pro", "donor": "dnr", "former owner": "fmo",
}
_CODE_TO_TERM = {code: term for term, code in MARC_RELATORS.items() if term != "recipient"}

# Headers that are not columns, with what to use instead.
RESERVED: dict[str, str] = {
    "recordinfo/recordidentifier": "the `id` column fills recordInfo/recordIdentifier",
    "local_id": "the identity column is named `id`",
}


def role_terms(role: str) -> tuple[str, str | None]:
    """(text term, MARC relator code or None) for a role given as a term or a code."""
    low = role.lower()
    if low in MARC_RELATORS:
        return low, MARC_RELATORS[low]
    if low in _CODE_TO_TERM:
        return _CODE_TO_TERM[low], low
    return role, None


@dataclass(frozen=True)
class Step:
    name: str
    predicates: tuple[tuple[str, str], ...] = ()  # (attribute or ROLE, value), in the order written

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.predicates if k == key), None)

    def __str__(self) -> str:
        return self.name + "".join(f"[{k}={v}]" if k == ROLE else f"[@{k}={v}]" for k, v in self.predicates)


@dataclass(frozen=True)
class Column:
    index: int               # 0-based position in the header
    header: str              # as written
    kind: str                # "id", "dc" or "mods"
    dc: str | None = None    # the DC element, for kind "dc"
    steps: tuple[Step, ...] = ()  # the MODS path, for kind "mods"

    @property
    def letter(self) -> str:
        return column_letter(self.index)

    @property
    def label(self) -> str:
        return f"column {self.letter} ({self.header})"

    @property
    def plain(self) -> str:
        return "/".join(s.name for s in self.steps)

    @property
    def top(self) -> Step:
        return self.steps[0]


class ColumnError(ValueError):
    """A header names a column the vocabulary does not have, or has it wrongly."""


def column_letter(index: int) -> str:
    """A, B, …, Z, AA, AB, … as a spreadsheet names column `index` (0-based)."""
    out = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


_STEP = re.compile(r"([A-Za-z]+)((?:\[[^\]]*\])*)$")
_PRED = re.compile(r"\[\s*(@?[A-Za-z]+(?:/[A-Za-z]+)?)\s*=\s*(?:'([^']*)'|\"([^\"]*)\"|([^\]]*?))\s*\]")
_BY_LOWER = {p.lower(): p for p in MODS_PATHS}


def _split_steps(header: str) -> list[str]:
    """Split on `/` outside predicates (a role predicate has a `/` of its own)."""
    parts, depth, cur = [], 0, ""
    for ch in header:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == "/" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse_column(index: int, header: str) -> Column:
    """The Column a header names, or ColumnError saying what is allowed."""
    text = header.strip()
    low = text.lower()
    if low == ID_COLUMN:
        return Column(index, text, "id")
    dc = low[3:] if low.startswith("dc:") else low
    if dc in DC_ELEMENTS:
        return Column(index, text, "dc", dc=dc)
    if low.replace(" ", "") in RESERVED:
        raise ColumnError(f"not a column: {RESERVED[low.replace(' ', '')]}")
    raw_steps = _split_steps(text)
    steps: list[Step] = []
    for raw in raw_steps:
        m = _STEP.fullmatch(raw.strip())
        if not m:
            raise ColumnError(_unknown(text))
        preds_text = m.group(2)
        preds = []
        for pm in _PRED.finditer(preds_text):
            key = pm.group(1)
            value = next(g for g in pm.group(2, 3, 4) if g is not None).strip()
            preds.append((key[1:] if key.startswith("@") else key, value))
        if "".join(pm.group(0) for pm in _PRED.finditer(preds_text)) != preds_text:
            raise ColumnError(f"cannot read the predicates {preds_text!r}: write them as [@attribute=value] "
                              f"or [{ROLE}=term]")
        steps.append(Step(m.group(1), tuple(preds)))
    plain = _BY_LOWER.get("/".join(s.name for s in steps).lower())
    if plain is None:
        raise ColumnError(_unknown(text))
    allowed = MODS_PATHS[plain]
    fixed: list[Step] = []
    for name, step in zip(plain.split("/"), steps):
        preds = []
        for key, value in step.predicates:
            attr = next((a for a in allowed.get(name, ()) if a.lower() == key.lower()), None)
            if attr is None:
                ok = ", ".join(f"[{a}=…]" if a == ROLE else f"[@{a}=…]" for a in allowed.get(name, ())) or "none"
                raise ColumnError(f"{name} in {plain} cannot carry [{key}=…] (allowed: {ok})")
            if not value:
                raise ColumnError(f"[{key}=…] on {name} needs a value")
            choices = ATTRIBUTE_VALUES.get((name, attr))
            if choices:
                match = next((c for c in choices if c.lower() == value.lower()), None)
                if match is None:
                    raise ColumnError(f"{name}/@{attr} must be one of {', '.join(choices)}; not {value!r}")
                value = match
            if any(k == attr for k, _ in preds):
                raise ColumnError(f"[{attr}=…] is given twice on {name}")
            preds.append((attr, value))
        fixed.append(Step(name, tuple(preds)))
    if plain == "identifier" and not fixed[0].predicates:
        raise ColumnError("internal: plain identifier is the DC column")  # unreachable: matched as DC above
    return Column(index, text, "mods", steps=tuple(fixed))


def _unknown(header: str) -> str:
    known = [ID_COLUMN, *DC_ELEMENTS, *MODS_PATHS]
    bare = re.sub(r"\[[^\]]*\]", "", header)
    close = difflib.get_close_matches(bare, known, n=1, cutoff=0.75) or \
        difflib.get_close_matches(bare.lower(), [k.lower() for k in known], n=1, cutoff=0.75)
    hint = f" (did you mean {next(k for k in known if k.lower() == close[0].lower())!r}?)" if close else ""
    return (f"unknown column{hint}; columns are `id`, the 15 Dublin Core element names (title, creator, …) "
            "and the MODS paths listed in docs/csv-import.md")
