"""What a crosswalk did with each part of its source: the raw material of reports.

Crosswalks call a Trace as they work, so the report describes what the code
actually did rather than a separate description that could drift from it.
The default NullTrace costs nothing on the ingest hot path.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from lxml import etree


class Outcome(str, Enum):
    MAPPED = "mapped"            # value carried over unchanged into the target element(s)
    TRANSFORMED = "transformed"  # value carried over, changed (joined, reformatted, prefixed...)
    DROPPED = "dropped"          # not represented in the output


@dataclass(frozen=True)
class TraceEvent:
    source_path: str                  # e.g. /mods/name[2]/role/roleTerm or /mods/name[2]/@type
    outcome: Outcome
    targets: tuple[str, ...] = ()     # target element names, e.g. ("dc:creator",)
    values: tuple[str, ...] = ()      # the output values written for this source node
    note: str = ""                    # how it was transformed, or why it was dropped
    line: int | None = None


def node_path(el: etree._Element, attribute: str | None = None) -> str:
    """A readable location path with positional predicates where siblings share a name."""
    steps = []
    cur: etree._Element | None = el
    while cur is not None:
        name = etree.QName(cur).localname
        parent = cur.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == cur.tag]
            if len(same) > 1:
                name += f"[{same.index(cur) + 1}]"
        steps.append(name)
        cur = parent
    path = "/" + "/".join(reversed(steps))
    if attribute is not None:
        q = etree.QName(attribute)
        path += "/@" + (f"xlink:{q.localname}" if q.namespace == "http://www.w3.org/1999/xlink"
                        else f"xml:{q.localname}" if q.namespace == "http://www.w3.org/XML/1998/namespace"
                        else q.localname)
    return path


class Trace:
    """Collects TraceEvents; pass one to a crosswalk to learn what it did."""

    enabled = True

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def _add(self, outcome: Outcome, node: etree._Element, attribute: str | None,
             targets: tuple[str, ...], values: tuple[str, ...], note: str) -> None:
        self.events.append(TraceEvent(node_path(node, attribute), outcome, targets, values, note,
                                      node.sourceline))

    def mapped(self, node: etree._Element, targets: tuple[str, ...] | str, values: tuple[str, ...] | str = (),
               note: str = "", attribute: str | None = None) -> None:
        self._add(Outcome.MAPPED, node, attribute, _tuple(targets), _tuple(values), note)

    def transformed(self, node: etree._Element, targets: tuple[str, ...] | str, how: str,
                    values: tuple[str, ...] | str = (), attribute: str | None = None) -> None:
        self._add(Outcome.TRANSFORMED, node, attribute, _tuple(targets), _tuple(values), how)

    def dropped(self, node: etree._Element, why: str, attribute: str | None = None) -> None:
        self._add(Outcome.DROPPED, node, attribute, (), (), why)


class NullTrace(Trace):
    """A Trace that records nothing, for ingest where no report is wanted."""

    enabled = False

    def _add(self, *args, **kwargs) -> None:  # noqa: D401
        return None


def _tuple(v: tuple[str, ...] | str) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


NULL_TRACE = NullTrace()
