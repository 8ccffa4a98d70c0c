"""Conversions between metadata formats: pure functions on lxml trees.

No Flask, no database: each crosswalk takes a record tree and returns a new
one, and reports what it did to a Trace when asked.
"""
from crosswalks.registry import Crosswalk, Registry, build_registry, default_registry
from crosswalks.trace import NULL_TRACE, Outcome, Trace, TraceEvent

__all__ = ["Crosswalk", "NULL_TRACE", "Outcome", "Registry", "Trace", "TraceEvent",
           "build_registry", "default_registry"]
