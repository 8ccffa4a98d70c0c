"""Metadata formats: safe parsing, schema validation and canonical serialization.

Knows nothing of the web or the database, so crosswalks and tools can use it alone.
"""
from metadata.errors import MetadataError, ValidationIssue, XMLInputError
from metadata.formats import MODS, OAI_DC, MetadataFormat
from metadata.safe_xml import parse_xml

__all__ = [
    "MODS", "OAI_DC", "MetadataError", "MetadataFormat", "ValidationIssue",
    "XMLInputError", "parse_xml",
]
