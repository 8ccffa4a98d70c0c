"""What a crosswalk does to one record, in a form a librarian can check.

The report is made from the trace of a real conversion, not from a separate
description of the mapping, so it cannot drift from the code. It also checks
itself: every element and attribute of the source must have at least one
event, or the report says which ones it is silent about. The same object
serves the command line (`to_text`) and a web page or API (`to_dict`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from crosswalks.registry import Registry, default_registry
from crosswalks.trace import Trace, TraceEvent, node_path
from metadata.errors import ValidationIssue


@dataclass
class CrosswalkReport:
    source_prefix: str
    target_prefix: str
    chain: str                                   # e.g. "mods->oai_dc@2"
    output: etree._Element
    output_bytes: bytes                          # canonical, as stored and served
    events: list[TraceEvent]
    issues: list[ValidationIssue]
    uncovered: list[str] = field(default_factory=list)   # source paths no event mentions

    @property
    def valid(self) -> bool:
        return not self.issues

    @property
    def complete(self) -> bool:
        return not self.uncovered

    def to_dict(self) -> dict:
        return {
            "source": self.source_prefix,
            "target": self.target_prefix,
            "chain": self.chain,
            "valid": self.valid,
            "issues": [{"line": i.line, "path": i.path, "message": i.message} for i in self.issues],
            "complete": self.complete,
            "uncovered": list(self.uncovered),
            "events": [{"source_path": e.source_path, "outcome": e.outcome.value, "targets": list(e.targets),
                        "values": list(e.values), "note": e.note, "line": e.line} for e in self.events],
            "output": self.output_bytes.decode("utf-8"),
        }

    def to_text(self, width: int = 60) -> str:
        rows = [("source", "outcome", "target", "value / note")]
        for e in self.events:
            detail = "; ".join(e.values) if e.values else ""
            if e.note:
                detail = f"{detail} ({e.note})" if detail else e.note
            rows.append((e.source_path, e.outcome.value, _clip(", ".join(e.targets), 32), _clip(detail, width)))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{self.source_prefix} -> {self.target_prefix} ({self.chain})", ""]
        for i, row in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[3])
            if i == 0:
                lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 12)
        lines.append("")
        lines.append(f"output is valid {self.target_prefix}" if self.valid
                     else f"output is NOT valid {self.target_prefix}:")
        lines += [f"  {issue}" for issue in self.issues]
        lines.append("every element and attribute of the source is accounted for" if self.complete
                     else "the report is silent about: " + ", ".join(self.uncovered))
        return "\n".join(lines)


def explain(root: etree._Element, source_prefix: str, target_prefix: str,
            registry: Registry | None = None) -> CrosswalkReport:
    """Convert `root` with a trace, validate the result, and check that the trace covers the source."""
    registry = registry or default_registry()
    trace = Trace()
    output = registry.convert(root, source_prefix, target_prefix, trace)
    target = registry.format(target_prefix)
    return CrosswalkReport(
        source_prefix=source_prefix,
        target_prefix=target_prefix,
        chain=registry.version(source_prefix, target_prefix),
        output=output,
        output_bytes=target.serialize_built(output),
        events=trace.events,
        issues=target.validate(output),
        uncovered=uncovered_paths(root, trace.events),
    )


def uncovered_paths(root: etree._Element, events: list[TraceEvent]) -> list[str]:
    """The paths of source elements and attributes that no event mentions, in document order."""
    seen = {e.source_path for e in events}
    missing = []
    for el in root.iter(etree.Element):
        for path in [node_path(el)] + [node_path(el, name) for name in el.attrib]:
            if path not in seen:
                missing.append(path)
    return missing


def _clip(value: str, width: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= width else value[: width - 1] + "…"
