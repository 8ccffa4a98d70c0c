"""Run ingest's per-document stage in worker processes, results in input order.

Workers are spawned, not forked: a forked child would inherit the parent's
open database connections, and closing them at exit could break the parent's
write transaction. At most a few batches are in flight, so memory stays flat
however many documents there are. A worker whose parent dies (killed outright,
as the OOM killer does) exits on its own instead of waiting for work for ever.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice

from sqlalchemy import Engine

from crosswalks.registry import default_registry
from repository.db.engine import make_engine
from repository.ingest.sources import SourceDocument
from repository.ingest.stage import StagedDocument, StageOptions, stage_document
from repository.store.queries import content_hashes

_engine: Engine | None = None


def _init_worker(database_url: str, parent: int) -> None:
    global _engine
    _engine = make_engine(database_url)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int, every_s: float = 0.5) -> None:
    """Exit once the parent is gone (this process is re-parented): no one will read our results,
    and a worker blocked on a pipe its siblings keep open would otherwise wait for ever."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)


def _known(local_ids: list[str]) -> dict[str, str]:
    assert _engine is not None
    with _engine.connect() as conn:
        return content_hashes(conn, local_ids)


def _stage_batch(docs: list[SourceDocument], options: StageOptions) -> list[StagedDocument]:
    registry = default_registry()
    return [stage_document(d, registry, options, _known) for d in docs]


def _batches(docs: Iterable[SourceDocument], max_bytes: int = 4 * 1024 * 1024) -> Iterator[list[SourceDocument]]:
    batch: list[SourceDocument] = []
    size = 0
    for doc in docs:
        batch.append(doc)
        size += len(doc.data)
        if size >= max_bytes or len(batch) >= 500:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def staged_in_workers(docs: Iterable[SourceDocument], options: StageOptions, database_url: str,
                      jobs: int) -> Iterator[StagedDocument]:
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(database_url, os.getpid()))
    window: deque[Future] = deque()
    batches = _batches(docs)
    try:
        for batch in islice(batches, 2 * jobs):
            window.append(pool.submit(_stage_batch, batch, options))
        while window:
            done = window.popleft().result()
            for batch in islice(batches, 1):
                window.append(pool.submit(_stage_batch, batch, options))
            yield from done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
