"""Formats and crosswalks, built in and installed by other packages.

An institution adds a format or a crosswalk by installing a package that
declares an entry point in the group `granary.crosswalks`; the entry point
names either a `Crosswalk` or a `MetadataFormat`. The repository disseminates a
record in every format reachable from its native format along a chain of
crosswalks, so ListMetadataFormats is computed here, never written by hand.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points

from lxml import etree

from crosswalks.trace import NULL_TRACE, Trace
from metadata.formats import BUILTIN_FORMATS, MetadataFormat

ENTRY_POINT_GROUP = "granary.crosswalks"


@dataclass(frozen=True)
class Crosswalk:
    """A pure conversion from one format's record tree to another's.

    `version` must change whenever the output for some input changes; stored
    disseminations made by an older version are re-derived by `granary recrosswalk`.
    """

    source: str
    target: str
    version: str
    convert: Callable[[etree._Element, Trace], etree._Element]
    description: str = ""

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    def __call__(self, root: etree._Element, trace: Trace = NULL_TRACE) -> etree._Element:
        return self.convert(root, trace)


class UnknownFormatError(LookupError):
    """A metadataPrefix that no installed format declares."""


class NoCrosswalkError(LookupError):
    """No chain of crosswalks leads from one format to another."""


@dataclass
class Registry:
    formats: dict[str, MetadataFormat] = field(default_factory=dict)
    crosswalks: dict[tuple[str, str], Crosswalk] = field(default_factory=dict)
    # Shortest chains per source, asked on every request and record: computed once per registry state.
    _path_cache: dict[str, dict[str, tuple[Crosswalk, ...]]] = field(default_factory=dict, repr=False)

    def add(self, item: MetadataFormat | Crosswalk) -> None:
        self._path_cache.clear()
        if isinstance(item, MetadataFormat):
            self.formats[item.prefix] = item
        elif isinstance(item, Crosswalk):
            self.crosswalks[(item.source, item.target)] = item
        else:
            raise TypeError(f"not a MetadataFormat or Crosswalk: {item!r}")

    def format(self, prefix: str) -> MetadataFormat:
        try:
            return self.formats[prefix]
        except KeyError:
            raise UnknownFormatError(prefix) from None

    def format_for_root(self, tag: str) -> MetadataFormat | None:
        """The format whose record (or collection) root element is `tag`."""
        for fmt in self.formats.values():
            if tag == fmt.root_tag or tag in fmt.container_tags:
                return fmt
        return None

    def path(self, source: str, target: str) -> tuple[Crosswalk, ...]:
        """The shortest chain of crosswalks from source to target (empty if equal)."""
        paths = self._paths(source)
        if target not in paths:
            raise NoCrosswalkError(f"no crosswalk from {source} to {target}")
        return paths[target]

    def reachable(self, source: str) -> list[str]:
        """Every prefix a record of native format `source` can be disseminated in, sorted."""
        return sorted(p for p in self._paths(source) if p in self.formats)

    def sources_reaching(self, target: str) -> list[str]:
        """Native formats whose records can be disseminated in `target`."""
        return sorted(s for s in self.formats if target in self._paths(s))

    def version(self, source: str, target: str) -> str:
        """The version of the chain; it changes when any crosswalk on it changes."""
        return "+".join(f"{c.name}@{c.version}" for c in self.path(source, target)) or "native"

    def convert(self, root: etree._Element, source: str, target: str,
                trace: Trace = NULL_TRACE) -> etree._Element:
        for step in self.path(source, target):
            root = step(root, trace)
        return root

    def _paths(self, source: str) -> dict[str, tuple[Crosswalk, ...]]:
        cached = self._path_cache.get(source)
        if cached is not None:
            return cached
        paths: dict[str, tuple[Crosswalk, ...]] = {source: ()}
        queue = deque([source])
        while queue:
            here = queue.popleft()
            for (src, dst), cw in sorted(self.crosswalks.items()):
                if src == here and dst not in paths:
                    paths[dst] = paths[here] + (cw,)
                    queue.append(dst)
        self._path_cache[source] = paths
        return paths


def build_registry(extra: Iterable[MetadataFormat | Crosswalk] = ()) -> Registry:
    """Built-in formats, then every installed entry point, then `extra` (for tests)."""
    reg = Registry()
    for fmt in BUILTIN_FORMATS:
        reg.add(fmt)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        reg.add(ep.load())
    for item in extra:
        reg.add(item)
    return reg


@cache
def default_registry() -> Registry:
    return build_registry()
