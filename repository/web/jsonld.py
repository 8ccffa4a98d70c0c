"""schema.org JSON-LD for a record page, for search engines.

The JSON sits in a <script type="application/ld+json"> element: data that a
browser never runs, allowed by a CSP that forbids inline script. A metadata
value holding "</script>" must still not end the element early, so every <, >
and & is written as a JSON \\u escape (valid JSON, and inert in HTML).
"""
from __future__ import annotations

import json

from markupsafe import Markup

from repository.web.record_view import RecordView

_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                            "\u2028": "\\u2028", "\u2029": "\\u2029"})
_AUTHOR_ROLES = {"author", "creator", "aut", "cre"}


def json_ld(view: RecordView, page_url: str, identifier: str, repository_name: str) -> dict:
    archival = bool(view.sources or view.archives)
    data: dict = {
        "@context": "https://schema.org",
        "@type": "ArchiveComponent" if archival else "CreativeWork",
        "@id": page_url,
        "url": page_url,
        "name": view.title,
        "identifier": [identifier] + [v for _, v in view.identifiers],
        "isPartOf": {"@type": "Collection", "name": repository_name},
    }
    if view.date:
        data["dateCreated"] = view.date
    if view.description:
        data["description"] = view.description
    authors = [n for n in view.names if not n.roles or _AUTHOR_ROLES & {r.lower() for r in n.roles}]
    others = [n for n in view.names if n not in authors]
    if authors:
        data["author"] = [{"@type": "Organization" if n.kind == "corporate" else "Person", "name": n.name}
                          for n in authors]
    if others:
        data["contributor"] = [{"@type": "Organization" if n.kind == "corporate" else "Person", "name": n.name,
                                "roleName": ", ".join(n.roles)} for n in others]
    if view.subjects:
        data["keywords"] = view.subjects
    if view.languages:
        data["inLanguage"] = view.languages
    if view.genres or view.resource_types:
        data["genre"] = view.genres or view.resource_types
    if view.rights:
        data["usageInfo"] = " ".join(view.rights)
    if view.links:
        data["sameAs"] = [link.url for link in view.links]
    if view.archives:
        data["holdingArchive"] = [{"@type": "ArchiveOrganization", "name": a} for a in view.archives]
    if view.alternative_titles:
        data["alternateName"] = view.alternative_titles
    return data


def script_json(data: dict) -> Markup:
    """JSON text safe to place between <script type="application/ld+json"> tags."""
    return Markup(json.dumps(data, ensure_ascii=False, indent=1).translate(_HTML_SAFE))
