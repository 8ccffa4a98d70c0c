"""Write leases and the harvest watermark: why no incremental harvester misses a change.

A writer registers a lease (its start time, committed on its own) before its
data transaction begins, and removes it in the same commit as its data. Every
stamp it assigns is taken from the clock after the lease started. A list query
then sees only stamps below the watermark: the earliest start of a live lease,
or now when there is none. Any change not yet visible to a reader will therefore
be stamped at or after the watermark, so it can neither land behind a
harvester's keyset cursor nor fall before the responseDate it uses as the next
`from`. docs/datestamps.md explains the argument in full.
"""
from __future__ import annotations

import os
import socket

from sqlalchemy import Connection, Engine, delete, func, insert, select

from repository.db.engine import db_now_us, read_clock_us
from repository.db.tables import write_leases

_OWNER = f"{socket.gethostname()}:{os.getpid()}"


def acquire_lease(engine: Engine) -> int:
    """Register a write about to start; committed at once so readers see it."""
    with engine.begin() as conn:
        started = db_now_us(conn)
        return int(conn.execute(insert(write_leases).values(started=started, owner=_OWNER)
                                .returning(write_leases.c.id)).scalar_one())


def release_lease(conn: Connection, lease_id: int) -> None:
    """Remove a lease; inside the writer's transaction it disappears with the commit."""
    conn.execute(delete(write_leases).where(write_leases.c.id == lease_id))


def release_lease_now(engine: Engine, lease_id: int) -> None:
    """Remove the lease of a write that failed and rolled back."""
    with engine.begin() as conn:
        release_lease(conn, lease_id)


def watermark_us(conn: Connection, lease_timeout_s: int) -> int:
    """The stamp below which the store can no longer change.

    A lease older than the timeout belongs to a crashed writer and is ignored,
    so one killed process cannot freeze harvests for ever.
    """
    now = read_clock_us(conn)
    oldest = conn.execute(select(func.min(write_leases.c.started))
                          .where(write_leases.c.started > now - lease_timeout_s * 1_000_000)).scalar()
    return now if oldest is None else min(now, int(oldest))


def purge_stale_leases(conn: Connection, lease_timeout_s: int) -> None:
    now = db_now_us(conn)
    conn.execute(delete(write_leases).where(write_leases.c.started <= now - lease_timeout_s * 1_000_000))
