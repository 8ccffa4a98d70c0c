"""Walk the paths given to `granary ingest` and yield each XML document's bytes.

Directories are walked in sorted order and zip archives read entry by entry, so
a run is repeatable and names every document as `archive.zip!path/in/zip.xml`.
No read goes past the size limit, whatever the file system or the archive
claims: a device or pipe has no size, a file can grow, a zip header can lie.
"""
from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class SourceError(Exception):
    """A path that cannot be read as input."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}")


@dataclass(frozen=True)
class SourceDocument:
    name: str
    data: bytes


def _is_xml(name: str) -> bool:
    return name.lower().endswith(".xml")


# What reading a damaged, encrypted or exotic zip entry raises.
_ZIP_ENTRY_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path`, refused (SourceError) when over `max_bytes`: by its size before
    reading, and by what a read of at most one byte more returns."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(str(path), f"{size:,} bytes, over the limit of {max_bytes:,}")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise SourceError(str(path), f"over the limit of {max_bytes:,} bytes")
    return data


def _read_zip(path: Path, max_bytes: int) -> Iterator[SourceDocument]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise SourceError(str(path), f"not a readable zip archive ({exc})") from None
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir() or not _is_xml(info.filename) or info.filename.startswith("__MACOSX/"):
                continue
            if info.file_size > max_bytes:
                raise SourceError(f"{path}!{info.filename}", f"{info.file_size:,} bytes, over the limit of {max_bytes:,}")
            try:
                with archive.open(info) as fh:
                    data = fh.read(max_bytes + 1)  # the header's size can lie; never read past the limit
            except _ZIP_ENTRY_ERRORS as exc:
                raise SourceError(f"{path}!{info.filename}", f"cannot be read from the archive ({exc})") from None
            if len(data) > max_bytes:
                raise SourceError(f"{path}!{info.filename}", f"over the limit of {max_bytes:,} bytes")
            yield SourceDocument(f"{path}!{info.filename}", data)


def _read_file(path: Path, max_bytes: int) -> Iterator[SourceDocument]:
    if path.suffix.lower() == ".zip":
        yield from _read_zip(path, max_bytes)
        return
    yield SourceDocument(str(path), read_bounded(path, max_bytes))


def documents(paths: list[Path], max_bytes: int) -> Iterator[SourceDocument]:
    """Every XML document under `paths` (files, directories and zip archives)."""
    for path in paths:
        if not path.exists():
            raise SourceError(str(path), "no such file or directory")
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and (_is_xml(child.name) or child.suffix.lower() == ".zip"):
                    yield from _read_file(child, max_bytes)
        else:
            yield from _read_file(path, max_bytes)
