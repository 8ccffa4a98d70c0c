"""Controlled values both crosswalks agree on, so each direction is the other's inverse.

Kept in one place because the DC -> MODS -> DC round trip only holds if the
typeOfResource written for a DCMI type is read back as that same DCMI type.
"""
from __future__ import annotations

# MODS typeOfResource (the pre-3.7 enumeration, still what records use) -> DCMI Type, after the
# LoC "MODS to Dublin Core" table. "mixed material" (MARC Leader/06 p) is nearly always an
# archival collection, hence Collection.
TYPE_OF_RESOURCE_TO_DCMI: dict[str, str] = {
    "text": "Text",
    "cartographic": "Image",
    "notated music": "Text",
    "sound recording": "Sound",
    "sound recording-musical": "Sound",
    "sound recording-nonmusical": "Sound",
    "still image": "StillImage",
    "moving image": "MovingImage",
    "three dimensional object": "PhysicalObject",
    "software, multimedia": "Software",
    "mixed material": "Collection",
}

# DCMI Type -> the typeOfResource that maps back to exactly that DCMI term. Terms missing here
# (Image, Collection, Dataset, Event, InteractiveResource, Service) have no typeOfResource that
# would come back unchanged, so they travel in <genre authority="dct">.
DCMI_TO_TYPE_OF_RESOURCE: dict[str, str] = {
    "Text": "text",
    "Sound": "sound recording",
    "StillImage": "still image",
    "MovingImage": "moving image",
    "PhysicalObject": "three dimensional object",
    "Software": "software, multimedia",
}

DCMI_TYPES = frozenset({"Collection", "Dataset", "Event", "Image", "InteractiveResource", "MovingImage",
                        "PhysicalObject", "Service", "Software", "Sound", "StillImage", "Text"})

# Roles of primary responsibility (DC: "an entity primarily responsible for making the resource").
# MARC relator codes and their terms; any other role makes the name a dc:contributor.
CREATOR_ROLE_CODES = frozenset({"aut", "cre", "art", "cmp", "ctg", "pht", "arc", "inv", "lyr", "prg"})
CREATOR_ROLE_TERMS = frozenset({"author", "creator", "artist", "composer", "cartographer", "photographer",
                                "architect", "inventor", "lyricist", "programmer"})

DC_ELEMENTS: tuple[str, ...] = ("title", "creator", "subject", "description", "publisher", "contributor",
                                "date", "type", "format", "identifier", "source", "language", "relation",
                                "coverage", "rights")
