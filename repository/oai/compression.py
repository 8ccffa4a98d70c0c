"""gzip and deflate content encodings, negotiated from Accept-Encoding and streamed.

Identify announces both, so both must really work: a chunk is compressed as it
is produced, never the whole response at once.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

# wbits: 16+15 writes a gzip wrapper, 15 a zlib wrapper (HTTP's "deflate").
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def negotiate(accept_encoding: str) -> str | None:
    """The encoding to use: the client's preferred of gzip/deflate, or None (identity)."""
    best, best_q = None, 0.0
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if name in _WBITS and q > best_q:
            best, best_q = name, q
    return best


def compress(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    z = zlib.compressobj(6, zlib.DEFLATED, _WBITS[encoding])
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= 64 * 1024:
            out = z.compress(b"".join(pending))
            pending, size = [], 0
            if out:
                yield out
    yield z.compress(b"".join(pending)) + z.flush()
