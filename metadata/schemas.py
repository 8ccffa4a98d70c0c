"""Load the official XSDs shipped in metadata/schemas/, offline.

The files are unchanged copies of the published schemas. Their imports name
canonical http URLs; a resolver answers those from the local copies and refuses
anything else, so validation never touches the network.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

_LOCATIONS = {
    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd": "oai_dc.xsd",
    "http://dublincore.org/schemas/xmls/simpledc20021212.xsd": "simpledc20021212.xsd",
    "http://www.loc.gov/standards/mods/v3/mods-3-8.xsd": "mods-3-8.xsd",
    "http://www.loc.gov/mods/xml.xsd": "mods-xml.xsd",
    "http://www.loc.gov/standards/xlink/xlink.xsd": "xlink.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/03/xml.xsd": "xml.xsd",
    "http://www.w3.org/2009/01/xml.xsd": "xml.xsd",
}
_LOCATIONS.update({"https" + url[4:]: name for url, name in list(_LOCATIONS.items())})


class _OfflineResolver(etree.Resolver):
    def resolve(self, url, pubid, context):  # noqa: D401 - lxml API
        name = _LOCATIONS.get(url)
        if name is None:
            path = Path(url[7:] if url.startswith("file://") else url)
            if path.parent == SCHEMA_DIR and path.exists():
                name = path.name
        if name is None:
            raise OSError(f"schema {url!r} is not shipped with Granary")
        return self.resolve_filename(str(SCHEMA_DIR / name), context)


@cache
def load_schema(filename: str) -> etree.XMLSchema:
    """The compiled schema of a file in metadata/schemas (compiled once per process)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_OfflineResolver())
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / filename), parser))
