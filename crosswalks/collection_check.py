"""What the crosswalks do to a whole collection, before it is published.

A record report answers "what happened to this record"; a repository manager
needs "which parts of our records never reach DC, and does anything come out
invalid", across thousands of records. Paths are generalised (no positions),
so /mods/name[2]/namePart and /mods/name[1]/namePart count together.
A path is lost in a record when every event about it there says dropped.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from lxml import etree

from crosswalks.registry import Registry, default_registry
from crosswalks.trace import NULL_TRACE, Outcome, Trace

_POSITION = re.compile(r"\[\d+\]")
MAX_EXAMPLES = 5


def generalise(path: str) -> str:
    return _POSITION.sub("", path)


@dataclass
class Problem:
    count: int = 0
    examples: list[str] = field(default_factory=list)   # record identifiers, at most MAX_EXAMPLES
    first_message: str = ""

    def add(self, identifier: str, message: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(identifier)
        self.first_message = self.first_message or message


@dataclass
class CollectionResult:
    records: int
    carried: dict[str, int]                       # generalised source path -> records that have it
    lost: dict[str, dict[str, int]]               # path -> crosswalk chain -> records where it is lost
    invalid: dict[str, Problem]                   # crosswalk chain -> records whose output is invalid
    failed: dict[str, Problem]                    # crosswalk chain -> records the crosswalk could not convert

    def to_dict(self) -> dict:
        return {
            "records": self.records,
            "paths": [{"path": p, "records": n, "lost": dict(sorted(self.lost.get(p, {}).items()))}
                      for p, n in sorted(self.carried.items())],
            "invalid": {k: vars(v) for k, v in sorted(self.invalid.items())},
            "failed": {k: vars(v) for k, v in sorted(self.failed.items())},
        }

    def to_text(self) -> str:
        chains = sorted({c for losses in self.lost.values() for c in losses} | set(self.invalid) | set(self.failed))
        width = max([len(p) for p in self.carried] + [len("source path")])
        lines = [f"{self.records} records", "",
                 "source path".ljust(width) + "  records  " + "  ".join(f"lost in {c}" for c in chains)]
        for path, count in sorted(self.carried.items()):
            losses = self.lost.get(path, {})
            lines.append(path.ljust(width) + f"  {count:7d}  " + "  ".join(
                f"{losses.get(c, 0):{len(c) + 8}d}" for c in chains))
        for title, problems in (("invalid output", self.invalid), ("conversion failed", self.failed)):
            for chain, problem in sorted(problems.items()):
                lines.append(f"{title} in {chain}: {problem.count} records, e.g. {', '.join(problem.examples)}"
                             f" ({problem.first_message})")
        if not self.invalid and not self.failed:
            lines.append("every output is valid")
        return "\n".join(lines)


class CollectionCheck:
    """Runs every crosswalk reachable from each record's format and tallies what is lost."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or default_registry()
        self._records = 0
        self._carried: Counter[str] = Counter()
        self._lost: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._invalid: defaultdict[str, Problem] = defaultdict(Problem)
        self._failed: defaultdict[str, Problem] = defaultdict(Problem)

    def add(self, identifier: str, root: etree._Element, source_prefix: str) -> None:
        self._records += 1
        paths_in_record: set[str] = set()
        for target in self.registry.reachable(source_prefix):
            if target == source_prefix:
                continue
            chain = self.registry.version(source_prefix, target)
            steps = self.registry.path(source_prefix, target)
            trace = Trace()
            try:
                # Only the first step sees the source record; later steps trace an intermediate one.
                output = steps[0](root, trace)
                for step in steps[1:]:
                    output = step(output, NULL_TRACE)
            except Exception as exc:  # one bad record must not stop the check of a collection
                self._failed[chain].add(identifier, f"{type(exc).__name__}: {exc}")
                continue
            issues = self.registry.format(target).validate(output)
            if issues:
                self._invalid[chain].add(identifier, str(issues[0]))
            kept: set[str] = set()
            seen: set[str] = set()
            for event in trace.events:
                path = generalise(event.source_path)
                seen.add(path)
                if event.outcome is not Outcome.DROPPED:
                    kept.add(path)
            paths_in_record |= seen
            for path in seen - kept:
                self._lost[path][chain] += 1
        self._carried.update(paths_in_record)

    def result(self) -> CollectionResult:
        return CollectionResult(self._records, dict(self._carried),
                                {p: dict(c) for p, c in self._lost.items()},
                                dict(self._invalid), dict(self._failed))

    def to_dict(self) -> dict:
        return self.result().to_dict()

    def to_text(self) -> str:
        return self.result().to_text()
