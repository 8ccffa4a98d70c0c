"""How many records per second the collection check gets through on the shared corpus.

Run: python benchmarks/crosswalk_check_rate.py [rounds]
Each round adds every MODS and oai_dc corpus record once (each goes through
every crosswalk reachable from its format, traced and validated).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crosswalks.collection_check import CollectionCheck  # noqa: E402
from metadata.safe_xml import parse_xml  # noqa: E402
from tests.shared import CORPUS  # noqa: E402


def main(rounds: int = 5) -> None:
    records = [(f"{prefix}/{p.name}", parse_xml(p.read_bytes(), p.name).getroot(), prefix)
               for prefix, folder in (("mods", "mods"), ("oai_dc", "oai_dc"))
               for p in sorted((CORPUS / folder).glob("*.xml"))]
    check = CollectionCheck()
    check.add(*records[0])   # compile the schemas before timing
    start = time.perf_counter()
    for _ in range(rounds):
        for identifier, root, prefix in records:
            check.add(identifier, root, prefix)
    elapsed = time.perf_counter() - start
    n = rounds * len(records)
    print(f"{n} records in {elapsed:.2f} s: {n / elapsed:.0f} records/s "
          f"({len(records)} corpus records x {rounds} rounds)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
