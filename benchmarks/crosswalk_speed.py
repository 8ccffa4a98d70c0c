"""How long each crosswalk takes per record, and proof that a faster one writes the same output.

Run: python benchmarks/crosswalk_speed.py [--rounds N] [--golden FILE] [--check FILE]

Times `CROSSWALK(root)` without a trace (the ingest path) on the demo records
and the shared corpus, in both directions, and prints µs per record (best and
median of the rounds). The demo records in oai_dc are the demo MODS records
converted by mods->oai_dc, so both directions are measured on demo-sized input.

An optimisation must not change a single output byte nor a single trace event.
`--golden FILE` writes, for every input (demo, corpus, the corpus's invalid
records, the generated benchmark corpus if present, and the round trips of
all of them), the output bytes as built, the canonical bytes
(`serialize_built`) and the events of a traced run; `--check FILE` recomputes
them and lists every record that differs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lxml import etree  # noqa: E402

from crosswalks.dc_to_mods import CROSSWALK as DC_TO_MODS  # noqa: E402
from crosswalks.mods_to_dc import CROSSWALK as MODS_TO_DC  # noqa: E402
from crosswalks.registry import Crosswalk  # noqa: E402
from crosswalks.trace import Trace  # noqa: E402
from metadata.formats import MODS, MODS_NS, OAI_DC, MetadataFormat  # noqa: E402
from metadata.safe_xml import parse_xml  # noqa: E402
from tests.shared import CORPUS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "repository" / "demo" / "records"
GENERATED = ROOT / "benchmarks" / "out" / "corpus-2000"

Records = list[tuple[str, etree._Element]]


def _load(folder: Path, label: str) -> Records:
    return [(f"{label}/{p.name}", parse_xml(p.read_bytes(), p.name).getroot()) for p in sorted(folder.glob("*.xml"))]


def _generated() -> Records:
    """Each <mods> of the generated benchmark corpus, converted where it sits inside its collection."""
    records = []
    for path in sorted(GENERATED.glob("records-*.xml")):
        collection = parse_xml(path.read_bytes(), path.name, max_bytes=1 << 30).getroot()
        records += [(f"generated/{path.name}#{i}", el)
                    for i, el in enumerate(collection.iterchildren(f"{{{MODS_NS}}}mods"))]
    return records


def _converted(records: Records, crosswalk: Crosswalk, label: str) -> Records:
    """The outputs of `crosswalk` on `records`, as fresh trees, the input of the other direction."""
    out = []
    for name, root in records:
        try:
            out.append((f"{label}:{name}", etree.fromstring(etree.tostring(crosswalk(root)))))
        except ValueError:
            continue
    return out


def _per_record_us(crosswalk: Crosswalk, records: Records, rounds: int) -> tuple[float, float]:
    """(best, median) µs per record over `rounds` passes; one untimed pass first warms caches."""
    roots = [root for _, root in records]
    for root in roots:
        crosswalk(root)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for root in roots:
            crosswalk(root)
        times.append((time.perf_counter() - start) / len(roots) * 1e6)
    return min(times), statistics.median(times)


def _outcome(crosswalk: Crosswalk, fmt: MetadataFormat, root: etree._Element) -> dict:
    """Everything a run can be compared on: output bytes as built, canonical bytes, trace events."""
    try:
        built = crosswalk(root)
    except ValueError as exc:
        return {"error": str(exc)}
    raw = etree.tostring(built, encoding="unicode")
    canonical = fmt.serialize_built(built).decode("utf-8")
    trace = Trace()
    traced = crosswalk(root, trace)
    return {"raw": raw, "canonical": canonical,
            "traced_raw": etree.tostring(traced, encoding="unicode"),
            "events": [[e.source_path, e.outcome.value, list(e.targets), list(e.values), e.note, e.line]
                       for e in trace.events]}


def _golden_inputs(demo: Records, mods: Records, dc: Records) -> Iterator[tuple[str, Crosswalk, MetadataFormat,
                                                                                Records]]:
    invalid_mods = _load(CORPUS / "invalid" / "mods", "invalid/mods")
    invalid_dc = _load(CORPUS / "invalid" / "oai_dc", "invalid/oai_dc")
    all_mods = demo + mods + invalid_mods + _generated()
    all_dc = dc + invalid_dc
    yield "mods->oai_dc", MODS_TO_DC, OAI_DC, all_mods + _converted(all_dc, DC_TO_MODS, "from-dc")
    yield "oai_dc->mods", DC_TO_MODS, MODS, all_dc + _converted(all_mods, MODS_TO_DC, "from-mods")


def _golden(demo: Records, mods: Records, dc: Records) -> dict[str, dict]:
    return {f"{direction} {name}": _outcome(crosswalk, fmt, root)
            for direction, crosswalk, fmt, records in _golden_inputs(demo, mods, dc)
            for name, root in records}


def _check(path: Path, current: dict[str, dict]) -> int:
    before = json.loads(path.read_text(encoding="utf-8"))
    differ = sorted(k for k in before.keys() | current.keys() if before.get(k) != current.get(k))
    for key in differ[:20]:
        fields = sorted(f for f in (before.get(key) or {}).keys() | (current.get(key) or {}).keys()
                        if (before.get(key) or {}).get(f) != (current.get(key) or {}).get(f))
        print(f"DIFFERS {key}: {', '.join(fields) or 'missing'}")
    print(f"golden check: {len(current)} records, {len(differ)} differ from {path}")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--golden", type=Path, help="write the outputs and trace events of every record here")
    parser.add_argument("--check", type=Path, help="compare the outputs and trace events with this golden file")
    args = parser.parse_args()

    demo = _load(DEMO, "demo")
    mods = _load(CORPUS / "mods", "corpus/mods")
    dc = _load(CORPUS / "oai_dc", "corpus/oai_dc")
    demo_dc = _converted(demo, MODS_TO_DC, "demo")
    runs: list[tuple[str, Crosswalk, Records]] = [
        ("mods->oai_dc  demo", MODS_TO_DC, demo),
        ("mods->oai_dc  corpus", MODS_TO_DC, mods),
        ("oai_dc->mods  demo (as oai_dc)", DC_TO_MODS, demo_dc),
        ("oai_dc->mods  corpus", DC_TO_MODS, dc),
    ]
    for label, crosswalk, records in runs:
        best, median = _per_record_us(crosswalk, records, args.rounds)
        print(f"{label:32} {len(records):4} records  best {best:7.1f} µs/record  median {median:7.1f}")

    status = 0
    if args.golden or args.check:
        current = _golden(demo, mods, dc)
        if args.golden:
            args.golden.write_text(json.dumps(current, ensure_ascii=False, sort_keys=True), encoding="utf-8")
            print(f"golden: {len(current)} records written to {args.golden}")
        if args.check:
            status = _check(args.check, current)
    return status


if __name__ == "__main__":
    sys.exit(main())
