"""Where the shared corpus and official schemas live (../shared beside the checkout),
and a full dump of the store, to show that a refused input wrote nothing."""
from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from repository.db.tables import metadata_obj

SHARED = Path(os.environ.get("GRANARY_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
CORPUS = SHARED / "corpus"
SCHEMAS = SHARED / "schemas"


@cache
def official_schemas():
    """The loader from shared/schemas: validates against the official files, offline."""
    sys.path.insert(0, str(SCHEMAS))
    import load_schemas  # noqa: PLC0415

    return load_schemas


@cache
def response_schema():
    return official_schemas().load_response_schema()


def store_dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table of the schema, sorted: equal dumps before and after mean
    the store is exactly as it was."""
    with engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr)
                for t in metadata_obj.sorted_tables}
