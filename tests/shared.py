"""Where the shared corpus and official schemas live: ../shared beside the checkout."""
from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

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
