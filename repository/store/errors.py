"""Typed errors of the store, each naming the record or set concerned."""
from __future__ import annotations


class StoreError(Exception):
    """A write the store refused; nothing was changed."""


class RecordNotFound(StoreError):
    def __init__(self, local_id: str) -> None:
        self.local_id = local_id
        super().__init__(f"no record with local identifier {local_id!r}")


class SetError(StoreError):
    """A set that does not exist, already exists, or cannot be removed."""
