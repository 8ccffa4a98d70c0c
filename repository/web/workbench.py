"""The crosswalk workbench: one pasted or uploaded record through `crosswalks.report.explain`.

Nothing is stored. The page shows the source and the output with line
numbers; schema problems of either are listed by the line they are on in what
is shown (the output is validated as it is displayed, pretty-printed, so its
line numbers point at the right lines).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from crosswalks.registry import NoCrosswalkError, Registry, UnknownFormatError
from crosswalks.report import explain
from metadata.errors import MetadataError, ValidationIssue, XMLInputError
from metadata.safe_xml import parse_xml

MAX_INPUT_BYTES = 1024 * 1024


@dataclass
class WorkbenchOutcome:
    fatal: str = ""                       # why there is no output at all
    fatal_line: int | None = None
    source_prefix: str = ""
    target_prefix: str = ""
    chain: str = ""
    source_issues: list[ValidationIssue] = field(default_factory=list)
    output: str = ""
    output_issues: list[ValidationIssue] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.output_issues


def run_workbench(data: bytes, target: str, registry: Registry) -> WorkbenchOutcome:
    try:
        root = parse_xml(data, "the record", MAX_INPUT_BYTES).getroot()
    except XMLInputError as exc:
        return WorkbenchOutcome(fatal=exc.message, fatal_line=exc.line)
    except MetadataError as exc:
        return WorkbenchOutcome(fatal=str(exc))
    fmt = registry.format_for_root(root.tag)
    if fmt is None:
        known = ", ".join(sorted(f"{f.prefix} ({etree.QName(f.root_tag).localname})" for f in registry.formats.values()))
        return WorkbenchOutcome(fatal=f"The root element {root.tag} is not a record of a known format ({known}).",
                                fatal_line=root.sourceline)
    if root.tag != fmt.root_tag:
        return WorkbenchOutcome(fatal=f"This is a {fmt.prefix} collection; paste a single record "
                                      f"(one {etree.QName(fmt.root_tag).localname} element).",
                                fatal_line=root.sourceline)
    out = WorkbenchOutcome(source_prefix=fmt.prefix, target_prefix=target, source_issues=fmt.validate(root))
    try:
        report = explain(root, fmt.prefix, target, registry)
    except (UnknownFormatError, NoCrosswalkError) as exc:
        out.fatal = f"Cannot crosswalk {fmt.prefix} to {target}: {exc}"
        return out
    except Exception as exc:  # a crosswalk that fails on odd input: say so, do not crash the page
        out.fatal = f"The {fmt.prefix}->{target} crosswalk failed on this record: {exc.__class__.__name__}: {exc}"
        return out
    shown = etree.tostring(etree.fromstring(report.output_bytes, etree.XMLParser(remove_blank_text=True)),
                           pretty_print=True, encoding="unicode")
    out.chain = report.chain
    out.output = shown
    # Validate what is shown, so that line numbers are those of the displayed output.
    out.output_issues = registry.format(target).validate(parse_xml(shown.encode("utf-8"), "output").getroot())
    if report.issues and not out.output_issues:  # should not happen; never hide a problem the report found
        out.output_issues = list(report.issues)
    data_ = report.to_dict()
    out.events = data_["events"]
    out.uncovered = data_["uncovered"]
    for e in out.events:
        out.counts[e["outcome"]] = out.counts.get(e["outcome"], 0) + 1
    return out
