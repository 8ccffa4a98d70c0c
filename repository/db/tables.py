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
    Column("content_hash", String(64), nullable=False),
    Column("stamp", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("set_specs", Text, nullable=False, default=""),
    # OAI <about> container (provenance) for records harvested from elsewhere.
    Column("about", LargeBinary, nullable=True),
    Index("ix_records_stamp_id", "stamp", "id"),
)

# The record exactly as ingested, apart from `records`: list pages read `records` rows for
# every record they serve, and SQLite reads past a large value to reach later columns.
# lz4-compressed on PostgreSQL (migration 0004), which every ingest pays for, and kept in the
# row (0005).
record_sources = Table(
    "record_sources", metadata_obj,
    Column("record_id", Integer, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("native_xml", LargeBinary, nullable=False),
)

sets = Table(
    "sets", metadata_obj,
    Column("spec", String(255), primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=True),
    # A query-defined set's rule (JSON); NULL for a set with explicit membership.
    Column("rule", Text, nullable=True),
)

record_sets = Table(
    "record_sets", metadata_obj,
    Column("record_id", Integer, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("spec", String(255), ForeignKey("sets.spec", ondelete="CASCADE"), primary_key=True),
    Column("direct", Boolean, nullable=False),
    Column("stamp", BigInteger, nullable=False),
    Index("ix_record_sets_spec_stamp_record", "spec", "stamp", "record_id"),
)

# On PostgreSQL `xml` is lz4-compressed (migration 0004): list pages decompress every value they send;
# it stays in the row (0005), so a page reads no TOAST table.
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

# Where a record left a set, for "deletes in sets" (off unless GRANARY_DELETES_IN_SETS).
set_departures = Table(
    "set_departures", metadata_obj,
    Column("record_id", Integer, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("spec", String(255), ForeignKey("sets.spec", ondelete="CASCADE"), primary_key=True),
    Column("stamp", BigInteger, nullable=False),
    Index("ix_set_departures_spec_stamp_record", "spec", "stamp", "record_id"),
)

# REST API bearer tokens; only a SHA-256 of each token is kept.
api_tokens = Table(
    "api_tokens", metadata_obj,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("scope", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

# Where each `granary harvest` source stands: resumable and incremental.
harvest_state = Table(
    "harvest_state", metadata_obj,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("base_url", Text, nullable=False),
    Column("prefix", String(64), nullable=False),
    Column("set_spec", String(255), nullable=False, default=""),
    Column("last_response_date", String(32), nullable=True),   # of the last completed harvest
    Column("resumption_token", Text, nullable=True),           # of an interrupted one
    Column("harvest_started", String(32), nullable=True),      # responseDate of its first page
    Index("ux_harvest_state_source", "base_url", "prefix", "set_spec", unique=True),
)
