"""Bookkeeping that lets a crosswalk promise a complete, ordered trace.

A crosswalk records what it did with the nodes it used. `finish` then accounts
for every element and attribute it did not mention: a container is described
by what its contents became, anything else is reported dropped with the reason
from the crosswalk's table (inherited from a dropped ancestor such as
recordInfo). So a report can never be silent about part of a record. Events
are written in document order, the order a librarian reads the record in.
A Recorder is only built when tracing is on, so ingest never pays for it.
"""
from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from crosswalks.trace import Outcome, Trace

Key = tuple[etree._Element, str | None]
Event = tuple[Outcome, tuple[str, ...], tuple[str, ...], str]
# (element, attribute or None) -> the crosswalk's reason for not carrying it, or None if it has none
WhyDropped = Callable[[etree._Element, str | None], str | None]

DEFAULT_WHY = "the target format has no element for it"
CONTAINER_NOTE = "container: its parts are reported one by one"


class Recorder:
    def __init__(self, trace: Trace) -> None:
        self._trace = trace
        self._events: dict[Key, list[Event]] = {}

    def mapped(self, node: etree._Element, targets: tuple[str, ...] | str,
               values: tuple[str, ...] | str = (), note: str = "", attribute: str | None = None) -> None:
        self._add(node, attribute, (Outcome.MAPPED, _t(targets), _t(values), note))

    def transformed(self, node: etree._Element, targets: tuple[str, ...] | str, how: str,
                    values: tuple[str, ...] | str = (), attribute: str | None = None) -> None:
        self._add(node, attribute, (Outcome.TRANSFORMED, _t(targets), _t(values), how))

    def dropped(self, node: etree._Element, why: str, attribute: str | None = None) -> None:
        self._add(node, attribute, (Outcome.DROPPED, (), (), why))

    def _add(self, node: etree._Element, attribute: str | None, event: Event) -> None:
        events = self._events.setdefault((node, attribute), [])
        if event not in events:
            events.append(event)

    def finish(self, root: etree._Element, why: WhyDropped) -> None:
        """Fill in the nodes nobody mentioned, then write every event in document order."""
        self._settle(root, why, None)
        for el in root.iter(etree.Element):
            for event in self._events[(el, None)]:
                self._emit(el, None, event)
            for name in el.attrib:
                for event in self._events[(el, name)]:
                    self._emit(el, name, event)

    def _settle(self, el: etree._Element, why: WhyDropped, inherited: str | None) -> set[str]:
        """Give `el`, its attributes and its subtree their events; return the targets the subtree reached."""
        own = self._events.get((el, None))
        reason = why(el, None) or inherited
        if own and all(o is Outcome.DROPPED for o, *_ in own):
            reason = own[0][3]
        reached = {t for o, targets, _, _ in own or () if o is not Outcome.DROPPED for t in targets}
        for child in el:
            if isinstance(child.tag, str):
                reached |= self._settle(child, why, reason)
        if not own:
            own = self._events[(el, None)] = (
                [(Outcome.MAPPED, tuple(sorted(reached)), (), CONTAINER_NOTE)] if reached
                else [(Outcome.DROPPED, (), (), reason or DEFAULT_WHY)])
        # The attributes of an element that is not carried go with it, for its reason.
        lost = all(o is Outcome.DROPPED for o, *_ in own)
        for name in el.attrib:
            if (el, name) not in self._events:
                self._events[(el, name)] = [(Outcome.DROPPED, (), (), own[0][3] if lost
                                             else why(el, name) or DEFAULT_WHY)]
        return reached

    def _emit(self, el: etree._Element, attribute: str | None, event: Event) -> None:
        outcome, targets, values, note = event
        if outcome is Outcome.MAPPED:
            self._trace.mapped(el, targets, values, note, attribute=attribute)
        elif outcome is Outcome.TRANSFORMED:
            self._trace.transformed(el, targets, note, values, attribute=attribute)
        else:
            self._trace.dropped(el, note, attribute=attribute)


def _t(v: tuple[str, ...] | str) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)
