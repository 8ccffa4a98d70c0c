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
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, delete, insert, select

from repository.db.engine import db_now_us
from repository.store.rawsql import fetch_all
from repository.db.tables import write_leases


def _pid_namespace() -> str:
    """This process's PID namespace: containers sharing a host name may still not share PIDs."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:  # no /proc (macOS): one namespace per host
        return "-"


_HOST = f"{socket.gethostname()}:{_pid_namespace()}:"


def _owner() -> str:
    """Who holds a lease: host, PID namespace and process id (read now: gunicorn forks workers
    after this module is imported, and each writes under its own id)."""
    return f"{_HOST}{os.getpid()}"


def acquire_lease(engine: Engine) -> int:
    """Register a write about to start; committed at once so readers see it."""
    with engine.begin() as conn:
        started = db_now_us(conn)
        return int(conn.execute(insert(write_leases).values(started=started, owner=_owner())
                                .returning(write_leases.c.id)).scalar_one())


def release_lease(conn: Connection, lease_id: int) -> None:
    """Remove a lease; inside the writer's transaction it disappears with the commit."""
    conn.execute(delete(write_leases).where(write_leases.c.id == lease_id))


def release_lease_now(engine: Engine, lease_id: int) -> None:
    """Remove the lease of a write that failed and rolled back."""
    with engine.begin() as conn:
        release_lease(conn, lease_id)


@contextmanager
def read_view(engine: Engine, lease_timeout_s: int, carried: int | None = None) -> Iterator[tuple[Connection, int]]:
    """A connection for a list request and its watermark: `carried`, a watermark an earlier
    request read, if given, else read now.

    The clock must be read no later than the database snapshot the request reads:
    a lease committed after the snapshot is invisible to it, but its writer's stamps
    come after that commit, hence after such a clock reading. SQLite's snapshot
    starts at the connection's first statement, so its clock is read before
    connecting; PostgreSQL's statement_timestamp() precedes the statement's snapshot.

    An older watermark stays valid for a later snapshot: what that snapshot still cannot
    see, the earlier one could not see either, so it is stamped at or after the older
    watermark too. A list's later pages therefore reuse the first page's, and save a
    round trip each.
    """
    clock_before = time.time_ns() // 1000
    with engine.connect() as conn:
        yield conn, carried if carried is not None else _watermark(conn, lease_timeout_s, clock_before)


def _watermark(conn: Connection, lease_timeout_s: int, clock_before: int) -> int:
    """The stamp below which this request's view of the store can no longer change.

    A lease older than the timeout belongs to a crashed writer and is ignored,
    so one killed process cannot freeze harvests for ever.
    """
    timeout_us = lease_timeout_s * 1_000_000
    if conn.dialect.name == "sqlite":  # one machine, one clock (db_now_us's): SQLite is never replicated
        now = clock_before
        (oldest,), = fetch_all(conn, _OLDEST_LEASE_SQL, {"since": now - timeout_us})
    else:  # one round trip for the clock and the leases, on the first page of a list
        (now, oldest), = fetch_all(conn, _PG_WATERMARK_SQL, {"timeout_us": timeout_us})
    return now if oldest is None else min(now, int(oldest))


_OLDEST_LEASE_SQL = "SELECT MIN(started) FROM write_leases WHERE started > :since"
# On a read replica "now" is the commit time of the last replayed transaction (docs/datestamps.md).
_PG_WATERMARK_SQL = (
    "WITH c AS (SELECT (extract(epoch FROM CASE WHEN pg_is_in_recovery() THEN pg_last_xact_replay_timestamp() "
    "ELSE statement_timestamp() END) * 1000000)::bigint AS now) "
    "SELECT c.now, (SELECT MIN(started) FROM write_leases WHERE started > c.now - :timeout_us) FROM c")


def purge_stale_leases(conn: Connection, lease_timeout_s: int) -> None:
    """Remove the leases of writers that are gone: older than the timeout, or held by a process
    of this host (and PID namespace) that no longer runs. A writer killed outright leaves its
    lease; without the second rule it would hold every list's watermark back for the whole
    timeout, hiding from harvesters even the records its re-run writes."""
    now = db_now_us(conn)
    conn.execute(delete(write_leases).where(write_leases.c.started <= now - lease_timeout_s * 1_000_000))
    dead = [lid for lid, owner in conn.execute(select(write_leases.c.id, write_leases.c.owner))
            if owner.startswith(_HOST) and not _running(owner[len(_HOST):])]
    if dead:
        conn.execute(delete(write_leases).where(write_leases.c.id.in_(dead)))


def _running(pid: str) -> bool:
    """Whether process `pid` of this PID namespace exists (a reused PID counts: the lease then
    waits for its timeout, which is safe; purging a live writer's lease would not be)."""
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True
