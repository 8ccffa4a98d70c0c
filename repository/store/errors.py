"""Typed errors of the store, each naming the record or set concerned."""
from __future__ import annotations


class StoreError(Exception):
    """A write the store refused; nothing was changed."""


class RecordNotFound(StoreError):
    def __init__(self, local_id: str) -> None:
        self.local_id = local_id
        super().__init__(f"no record with local identifier {local_id!r}")


class RecordsNotFound(StoreError):
    def __init__(self, local_ids: list[str]) -> None:
        self.local_ids = local_ids
        shown = ", ".join(repr(i) for i in local_ids[:5])
        if len(local_ids) > 5:
            shown += f" and {len(local_ids) - 5} more"
        super().__init__(f"no record with local identifier {shown}" if len(local_ids) == 1
                         else f"no records with local identifiers {shown}")


class SetError(StoreError):
    """A set that does not exist, already exists, or cannot be removed."""


class PreconditionFailed(StoreError):
    """A conditional write found the record changed (or missing) since the writer read it."""

    def __init__(self, local_id: str, current_stamp: int | None) -> None:
        self.local_id = local_id
        self.current_stamp = current_stamp
        state = "does not exist" if current_stamp is None else "has changed since it was read"
        super().__init__(f"record {local_id!r} {state}")


class ConcurrentCreate(StoreError):
    """Another writer created a record this write was creating; nothing was written."""

    def __init__(self, local_ids: list[str]) -> None:
        self.local_ids = local_ids
        shown = ", ".join(repr(i) for i in local_ids[:3]) + (" ..." if len(local_ids) > 3 else "")
        super().__init__(f"another writer created one of these records at the same time: {shown}; try again")
