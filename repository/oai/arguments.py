"""Each verb's arguments as data (spec 4): required, optional and exclusive.

Validation happens before any handler runs: an unknown verb is badVerb; an
unknown, repeated, missing or empty argument, or a value XML cannot carry, is
badArgument.
"""
from __future__ import annotations

from dataclasses import dataclass

from metadata.xmlchars import has_non_xml_chars, strip_non_xml_chars

from repository.oai.errors import Code, OAIError


@dataclass(frozen=True)
class VerbRule:
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    exclusive: str | None = None  # an argument that must appear alone (resumptionToken)


RULES: dict[str, VerbRule] = {
    "Identify": VerbRule(),
    "GetRecord": VerbRule(required=frozenset({"identifier", "metadataPrefix"})),
    "ListIdentifiers": VerbRule(required=frozenset({"metadataPrefix"}),
                                optional=frozenset({"from", "until", "set"}), exclusive="resumptionToken"),
    "ListRecords": VerbRule(required=frozenset({"metadataPrefix"}),
                            optional=frozenset({"from", "until", "set"}), exclusive="resumptionToken"),
    "ListMetadataFormats": VerbRule(optional=frozenset({"identifier"})),
    "ListSets": VerbRule(exclusive="resumptionToken"),
}


def validate(pairs: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """(verb, arguments) of a request given as its (key, value) pairs in order."""
    verbs = [v for k, v in pairs if k == "verb"]
    if not verbs:
        raise OAIError(Code.BAD_VERB, "the verb argument is missing")
    if len(verbs) > 1:
        raise OAIError(Code.BAD_VERB, "the verb argument is repeated")
    verb = verbs[0]
    rule = RULES.get(verb)
    if rule is None:
        raise OAIError(Code.BAD_VERB, f"{strip_non_xml_chars(verb)!r} is not a verb of OAI-PMH 2.0")

    problems: list[str] = []
    args: dict[str, str] = {}
    allowed = rule.required | rule.optional | ({rule.exclusive} if rule.exclusive else set())
    for key, value in pairs:
        if key == "verb":
            continue
        shown = strip_non_xml_chars(key)
        if key not in allowed:
            problems.append(f"{shown!r} is not an argument of {verb}")
        elif key in args:
            problems.append(f"the argument {shown} is repeated")
        elif value == "":
            problems.append(f"the argument {shown} is empty")
        elif has_non_xml_chars(value):
            problems.append(f"the argument {shown} contains characters that XML 1.0 does not allow")
        else:
            args[key] = value
    if not problems:
        if rule.exclusive and rule.exclusive in args:
            others = sorted(set(args) - {rule.exclusive})
            if others:
                problems.append(f"{rule.exclusive} is an exclusive argument; {', '.join(others)} must not accompany it")
        else:
            problems += [f"the required argument {name} is missing" for name in sorted(rule.required - set(args))]
    if problems:
        raise OAIError(Code.BAD_ARGUMENT, problems[0], *[(Code.BAD_ARGUMENT, p) for p in problems[1:]])
    return verb, args
