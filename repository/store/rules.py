"""Query-defined sets: a set whose members are the records matching a rule.

A rule is JSON, evaluated against a record's MODS dissemination (every record
has one, whatever its native format), so one vocabulary serves MODS and DC
records alike:

    {"field": "typeOfResource", "equals": "text"}
    {"field": "genre", "equals": "Telegram"}
    {"field": "name", "contains": "Stalin"}
    {"field": "date", "from": "1950", "until": "1953"}      (years, inclusive)
    {"all": [rule, ...]}   {"any": [rule, ...]}   {"not": rule}

Text comparisons ignore case and surrounding space. Membership is
materialised when records or rules change, so harvesting such a set walks the
same index as any other set.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from metadata.formats import MODS_NS

Predicate = Callable[[etree._Element], bool]

_M = f"{{{MODS_NS}}}"
_FIELDS: dict[str, etree.XPath] = {
    "typeOfResource": etree.XPath("m:typeOfResource", namespaces={"m": MODS_NS}),
    "genre": etree.XPath("m:genre", namespaces={"m": MODS_NS}),
    "name": etree.XPath("m:name/m:namePart | m:name/m:displayForm", namespaces={"m": MODS_NS}),
    "title": etree.XPath("m:titleInfo/m:title", namespaces={"m": MODS_NS}),
    "subject": etree.XPath("m:subject/*[not(self::m:name)] | m:subject/m:name/m:namePart",
                           namespaces={"m": MODS_NS}),
    "language": etree.XPath("m:language/m:languageTerm", namespaces={"m": MODS_NS}),
    "date": etree.XPath("m:originInfo/m:dateIssued | m:originInfo/m:dateCreated | m:originInfo/m:dateOther",
                        namespaces={"m": MODS_NS}),
}
_YEAR = re.compile(r"^\s*(-?\d{4})")


class RuleError(ValueError):
    """A set rule that cannot be understood; the message says which part."""


def _values(root: etree._Element, field: str) -> list[str]:
    return [" ".join("".join(el.itertext()).split()).casefold() for el in _FIELDS[field](root)]


def _year(value: str) -> int | None:
    m = _YEAR.match(value)
    return int(m.group(1)) if m else None


def _condition(rule: dict[str, Any], where: str) -> Predicate:
    field = rule.get("field")
    if field not in _FIELDS:
        raise RuleError(f"{where}: field must be one of {', '.join(sorted(_FIELDS))}, not {field!r}")
    ops = set(rule) - {"field"}
    if ops == {"equals"} and isinstance(rule["equals"], str):
        want = " ".join(rule["equals"].split()).casefold()
        return lambda root: want in _values(root, field)
    if ops == {"contains"} and isinstance(rule["contains"], str) and rule["contains"].strip():
        part = " ".join(rule["contains"].split()).casefold()
        return lambda root: any(part in v for v in _values(root, field))
    if field == "date" and ops and ops <= {"from", "until"}:
        try:
            low = int(rule.get("from", -9999))
            high = int(rule.get("until", 9999))
        except (TypeError, ValueError):
            raise RuleError(f"{where}: from and until must be years") from None
        if low > high:
            raise RuleError(f"{where}: from ({low}) is after until ({high})")

        def in_range(root: etree._Element) -> bool:
            years = [y for y in (_year(v) for v in _values(root, "date")) if y is not None]
            return any(low <= y <= high for y in years)

        return in_range
    raise RuleError(f"{where}: expected one of equals, contains (a non-empty string) or, for date, from/until; "
                    f"got {sorted(ops) or 'nothing'}")


def _compile(rule: Any, where: str) -> Predicate:
    if not isinstance(rule, dict):
        raise RuleError(f"{where}: a rule is a JSON object")
    for key, combine in (("all", all), ("any", any)):
        if key in rule:
            parts = rule[key]
            if set(rule) != {key} or not isinstance(parts, list) or not parts:
                raise RuleError(f"{where}: {key!r} takes a non-empty list of rules and nothing else")
            preds = [_compile(p, f"{where}.{key}[{i}]") for i, p in enumerate(parts)]
            return lambda root, preds=preds, combine=combine: combine(p(root) for p in preds)
    if "not" in rule:
        if set(rule) != {"not"}:
            raise RuleError(f"{where}: 'not' takes one rule and nothing else")
        inner = _compile(rule["not"], f"{where}.not")
        return lambda root: not inner(root)
    return _condition(rule, where)


def compile_rule(text: str) -> Predicate:
    """A predicate over MODS roots for the rule in `text`; RuleError names what is wrong."""
    try:
        rule = json.loads(text)
    except ValueError as exc:
        raise RuleError(f"rule is not JSON: {exc}") from None
    return _compile(rule, "rule")


def normalized(text: str) -> str:
    """The rule in a canonical JSON spelling, validated (what the store keeps)."""
    compile_rule(text)
    return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
