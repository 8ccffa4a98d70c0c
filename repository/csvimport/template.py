"""`granary import-csv --template`: a header of the common columns and one filled example row.

The example is demo record 110365 (a letter in the Wilson Center Digital
Archive), so the template shows names with roles, a date, subjects and `|`
repeats as they are meant to be written. CSV has no comments: the columns are
described in docs/csv-import.md.
"""
from __future__ import annotations

import csv
import io

TEMPLATE: tuple[tuple[str, str], ...] = (
    ("id", "110365"),
    ("titleInfo/title", "Handwritten letter from Gao Gang and Kim Il Sung to Stalin, with 13 June 1951 "
                        "handwritten letter from Mao Zedong to Gao Gang and Kim Il Sung"),
    ("titleInfo/subTitle", ""),
    ("titleInfo[@type=alternative]/title", ""),
    ("name[@type=personal][role/roleTerm=author]/namePart", "Gao Gang|Kim Il Sung|Mao Zedong"),
    ("name[@type=personal][role/roleTerm=addressee]/namePart", "Stalin, Joseph, 1878-1953"),
    ("name[@type=corporate]/namePart", ""),
    ("typeOfResource", "text"),
    ("genre", "Letter"),
    ("originInfo/dateCreated", "1951-06-14"),
    ("originInfo/dateIssued", ""),
    ("originInfo/publisher", ""),
    ("originInfo/place/placeTerm", ""),
    ("language/languageTerm", ""),
    ("physicalDescription/form", "Handwritten letter"),
    ("physicalDescription/extent", "4 pages"),
    ("abstract", "Letter from Mao to Gao Gang and Kim Il Sung, conveyed to Stalin, on a strategy for "
                 "approaching and terms for an armistice. Issues considered include Taiwan, China's entry "
                 "into the UN and the establishment of a neutral zone."),
    ("note", "Stalin used the pseudonym Filippov in his correspondence with the Chinese and Korean leaders "
             "in 1950-1951."),
    ("subject[@authority=lcsh]/topic", "Korean War, 1950-1953--Armistices"),
    ("subject/topic", "Neutral zones|Sino-Soviet relations"),
    ("subject/geographic", "Taiwan"),
    ("subject/temporal", "1951"),
    ("subject/name[@type=corporate]/namePart", "United Nations"),
    ("identifier[@type=local]", "110365"),
    ("location/url", "https://digitalarchive.wilsoncenter.org/document/110365"),
    ("accessCondition[@type=use and reproduction]", "This document may be reproduced and redistributed for "
                                                    "non-commercial research and educational purposes, with "
                                                    "attribution to the Wilson Center Digital Archive."),
    ("relatedItem[@type=host]/titleInfo/title", ""),
)


def template_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c for c, _ in TEMPLATE])
    writer.writerow([v for _, v in TEMPLATE])
    return out.getvalue()
