"""The store's tables.

`stamp` is a record's change time in integer microseconds (UTC, database clock).
OAI datestamps are its whole seconds; the finer value orders changes within a
second so that keyset pagination on (stamp, id) is exact. Set membership rows
carry a copy of the stamp so that set harvests walk their own index.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table,
    Text,
)

metadata_obj = MetaData()

records = Table(
    "records", metadata_obj,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("local_id", String(512), nullable=False, unique=True),
    Column("native_format", String(64), nullable=False),
    Column("native_xml", LargeBinary, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("stamp", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("set_specs", Text, nullable=False, default=""),
    Index("ix_records_stamp_id", "stamp", "id"),
)

sets = Table(
    "sets", metadata_obj,
    Column("spec", String(255), primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=True),
)

record_sets = Table(
    "record_sets", metadata_obj,
    Column("record_id", Integer, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("spec", String(255), ForeignKey("sets.spec", ondelete="CASCADE"), primary_key=True),
    Column("direct", Boolean, nullable=False),
    Column("stamp", BigInteger, nullable=False),
    Index("ix_record_sets_spec_stamp_record", "spec", "stamp", "record_id"),
)

disseminations = Table(
    "disseminations", metadata_obj,
    Column("record_id", Integer, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("prefix", String(64), primary_key=True),
    Column("xml", LargeBinary, nullable=False),
    Column("crosswalk_version", String(255), nullable=False),
)

write_leases = Table(
    "write_leases", metadata_obj,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started", BigInteger, nullable=False),
    Column("owner", String(255), nullable=False),
)

repository_meta = Table(
    "repository_meta", metadata_obj,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
