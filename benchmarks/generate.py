"""Deterministic benchmark corpus: N MODS 3.8 records recombined from the demo collection.

    python benchmarks/generate.py --size 10000 [--seed 1] [--out benchmarks/out] [--check 200]

Writes benchmarks/out/corpus-N/ with `modsCollection` files of (at most) 1,000
records, `touch/` (1,000 of the same records with a changed note, for the
"last 1,000 changes" harvest) and `manifest.json`: the set hierarchy (10
top-level sets, each with 2-3 children), the sets of every file (ingest runs
one `granary ingest --set ...` per group of files), the ~2% of local ids to
withdraw, and the size of the corpus.

Record i depends only on (seed, i), so corpus-10000 holds the first 10,000
records of corpus-1000000. Parts (names, subjects, abstracts, notes, related
items, physical descriptions, translated titles) come from the 76 demo records;
titles are spliced from two demo titles; dates and identifiers are new. Sizes
follow a skewed mix: most records 2-4 KB, about a fifth 4-8 KB, ~3% 10-25 KB.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from html import escape
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "repository" / "demo" / "records"
MODS_NS = "http://www.loc.gov/mods/v3"
RECORDS_PER_FILE = 1000
DELETE_FRACTION = 0.02
TOUCH_COUNT = 1000

# 10 top-level sets (the demo collection's), each with 2-3 children.
HIERARCHY = [
    ("korea", "Korean War", [("origins", "Korean War Origins, 1945-1950"),
                             ("armistice", "Korean War Armistice Negotiations"),
                             ("pow", "Prisoners of War in Korea")]),
    ("sino-soviet", "Sino-Soviet Relations", [("alliance", "The Sino-Soviet Alliance, 1950-1958"),
                                              ("split", "The Sino-Soviet Split")]),
    ("cuba", "Cuba and the Cold War", [("missile-crisis", "The Cuban Missile Crisis"),
                                       ("revolution", "The Cuban Revolution"),
                                       ("africa", "Cuba in Africa")]),
    ("nuclear", "Nuclear History", [("testing", "Nuclear Testing"),
                                    ("nonproliferation", "Nuclear Nonproliferation")]),
    ("germany", "Germany in the Cold War", [("berlin", "The Berlin Crises"),
                                            ("gdr", "The German Democratic Republic"),
                                            ("reunification", "German Reunification")]),
    ("vietnam", "The Vietnam War", [("indochina", "The First Indochina War"),
                                    ("negotiations", "Vietnam War Negotiations")]),
    ("eastern-europe", "Eastern Europe", [("hungary-1956", "The Hungarian Revolution of 1956"),
                                          ("czechoslovakia-1968", "The Prague Spring"),
                                          ("poland", "Poland and Solidarity")]),
    ("middle-east", "The Middle East", [("suez", "The Suez Crisis"),
                                        ("iran", "Iran in the Cold War")]),
    ("africa", "Africa", [("congo", "The Congo Crisis"),
                          ("angola", "The Angolan Civil War"),
                          ("horn", "The Horn of Africa")]),
    ("cold-war-origins", "Origins of the Cold War", [("yalta", "Yalta and Potsdam"),
                                                     ("marshall-plan", "The Marshall Plan")]),
]
TEN_PERCENT_SET = "korea"  # every 10th file, so ~10% of the records (with its children)
SECOND_SET = "nuclear"     # files of sino-soviet also join it: records in two sets

_NS_DECL = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_BETWEEN_TAGS = re.compile(r">\s+<")


def set_list() -> list[dict]:
    out = []
    for top, name, children in HIERARCHY:
        out.append({"spec": top, "name": name, "description": f"Benchmark set: {name}."})
        for child, cname in children:
            out.append({"spec": f"{top}:{child}", "name": cname})
    return out


def file_sets(k: int) -> list[str]:
    """The sets of file k: top-level set k % 10 (so 10 files cover all ten), a child or the set itself."""
    top, _, children = HIERARCHY[k % len(HIERARCHY)]
    r = (k // len(HIERARCHY)) % (len(children) + 1)
    specs = [top if r == len(children) else f"{top}:{children[r][0]}"]
    if top == "sino-soviet":
        specs.append(SECOND_SET)
    return specs


class Parts:
    """Fragments of the demo records, as namespace-free XML text in the MODS default namespace."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        self.by_tag: dict[str, list[str]] = {}
        for path in sorted(DEMO.glob("*.xml")):
            root = etree.parse(str(path)).getroot()
            for el in root:
                if not isinstance(el.tag, str):
                    continue
                tag = etree.QName(el).localname
                if tag == "titleInfo" and el.get("type") is None:
                    self.titles.append("".join(el.findtext(f"{{{MODS_NS}}}title") or ""))
                    continue
                if tag in ("identifier", "recordInfo", "location", "originInfo"):
                    continue
                key = f"{tag}:{el.get('type')}" if tag == "titleInfo" else tag
                text = etree.tostring(el, encoding="unicode", with_tail=False)
                # One line per record: lxml cannot carry source lines above 65,535 through
                # MetadataFormat.validate (_detached sets sourceline, an unsigned short).
                text = _BETWEEN_TAGS.sub("><", _NS_DECL.sub("", text, count=3))
                self.by_tag.setdefault(key, []).append(text)
        self.abstract_sentences = [s for a in self.by_tag["abstract"]
                                   for s in re.findall(r"[^.]+\.", re.sub(r"</?abstract[^>]*>", "", a))]
        self.places = sorted({m for p in DEMO.glob("*.xml")
                              for m in re.findall(r"<placeTerm type=\"text\">([^<]+)<", p.read_text("utf-8"))})

    def pick(self, rng: random.Random, key: str, k: int) -> list[str]:
        pool = self.by_tag.get(key, [])
        return rng.sample(pool, min(k, len(pool))) if pool else []


def local_id(i: int) -> str:
    return f"bench-{i:07d}"


def record(parts: Parts, seed: int, i: int, touched: bool = False) -> str:
    rng = random.Random(seed * 1_000_003 + i)
    size_class = rng.random()
    big = size_class > 0.97
    medium = 0.78 < size_class <= 0.97
    a, b = rng.sample(parts.titles, 2)
    wa, wb = a.split(), b.split()
    title = " ".join(wa[: max(2, len(wa) // 2)] + wb[len(wb) // 2:])
    year = rng.randint(1945, 1991)
    date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    out = [f'<mods version="3.8"><titleInfo usage="primary"><title>{escape(title, False)}</title></titleInfo>']
    if rng.random() < 0.5:
        out += parts.pick(rng, "titleInfo:translated", 1)
    if rng.random() < 0.1:
        out += parts.pick(rng, "titleInfo:alternative", 1)
    out += parts.pick(rng, "name", rng.choice((1, 1, 2, 2, 2, 3, 4)) + (4 if big else 0))
    out.append("<typeOfResource>text</typeOfResource>")
    out += parts.pick(rng, "genre", 1)
    place = (f'<place><placeTerm type="text">{escape(rng.choice(parts.places), False)}</placeTerm></place>'
             if rng.random() < 0.6 else "")
    out.append(f'<originInfo eventType="production">{place}'
               f'<dateCreated encoding="w3cdtf" keyDate="yes">{date}</dateCreated></originInfo>')
    out += parts.pick(rng, "language", rng.choice((1, 1, 1, 2)))
    out += parts.pick(rng, "physicalDescription", 1)
    n_sent = rng.randint(1, 3) + (rng.randint(3, 8) if medium else 0) + (rng.randint(15, 40) if big else 0)
    abstract = " ".join(s.strip() for s in rng.choices(parts.abstract_sentences, k=n_sent))
    out.append(f"<abstract>{abstract}</abstract>")  # sentences come escaped from the demo XML
    out += parts.pick(rng, "note", rng.choice((0, 0, 1, 1, 2)) + (3 if big else 0))
    if touched:
        out.append(f'<note type="general">Description revised for benchmark touch {i}.</note>')
    out += parts.pick(rng, "subject", rng.randint(2, 6) + (rng.randint(4, 10) if medium else 0)
                      + (rng.randint(20, 40) if big else 0))
    out += parts.pick(rng, "relatedItem", rng.choice((0, 1, 1, 2)) + (3 if big else 0))
    lid = local_id(i)
    out.append(f'<identifier type="local">{lid}</identifier>')
    out.append(f'<location><url usage="primary display">https://example.org/benchmark/{lid}</url></location>')
    out += parts.pick(rng, "accessCondition", 1)
    out.append(f'<recordInfo><recordContentSource>Granary benchmark corpus</recordContentSource>'
               f'<recordCreationDate encoding="w3cdtf">{rng.randint(2008, 2024)}-{rng.randint(1, 12):02d}-'
               f'{rng.randint(1, 28):02d}</recordCreationDate>'
               f'<recordIdentifier source="Granary benchmark">{lid}</recordIdentifier></recordInfo></mods>')
    return "".join(out)


HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<modsCollection xmlns="http://www.loc.gov/mods/v3" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.loc.gov/mods/v3 http://www.loc.gov/standards/mods/v3/mods-3-8.xsd">\n')
TAIL = "\n</modsCollection>\n"


def is_deleted(seed: int, i: int) -> bool:
    return random.Random(seed * 7_919 + i).random() < DELETE_FRACTION


def touched_ids(size: int) -> list[int]:
    """TOUCH_COUNT records spread evenly over the corpus (fewer for tiny corpora)."""
    n = min(TOUCH_COUNT, max(1, size // 10))
    step = size / n
    return [int(k * step) for k in range(n)]


def generate(size: int, seed: int, out: Path, check: int = 200) -> dict:
    target = out / f"corpus-{size}"
    manifest_path = target / "manifest.json"
    if manifest_path.exists():
        m = json.loads(manifest_path.read_text())
        if m.get("seed") == seed and m.get("size") == size and m.get("complete"):
            return m
    (target / "touch").mkdir(parents=True, exist_ok=True)
    parts = Parts()
    files, deleted, total_bytes, sizes = [], [], 0, []
    t0 = time.perf_counter()
    for k in range((size + RECORDS_PER_FILE - 1) // RECORDS_PER_FILE):
        lo, hi = k * RECORDS_PER_FILE, min(size, (k + 1) * RECORDS_PER_FILE)
        recs = [record(parts, seed, i) for i in range(lo, hi)]
        sizes += [len(r.encode()) for r in recs[::50]]
        data = (HEAD + "\n".join(recs) + TAIL).encode()
        name = f"records-{k:05d}.xml"
        (target / name).write_bytes(data)
        total_bytes += len(data)
        files.append({"path": name, "sets": file_sets(k), "records": hi - lo})
        deleted += [local_id(i) for i in range(lo, hi) if is_deleted(seed, i)]
    touch = [i for i in touched_ids(size) if not is_deleted(seed, i)]
    (target / "touch" / "touched.xml").write_bytes(
        (HEAD + "\n".join(record(parts, seed, i, touched=True) for i in touch) + TAIL).encode())
    set_counts: dict[str, int] = {}
    for f in files:
        for s in f["sets"]:
            for anc in [":".join(s.split(":")[: j + 1]) for j in range(s.count(":") + 1)]:
                set_counts[anc] = set_counts.get(anc, 0) + f["records"]
    sizes.sort()
    manifest = {
        "size": size, "seed": seed, "records_per_file": RECORDS_PER_FILE,
        "sets": set_list(), "files": files, "deleted": deleted,
        "touch_file": "touch/touched.xml", "touched": [local_id(i) for i in touch],
        "ten_percent_set": TEN_PERCENT_SET, "set_counts": set_counts,
        "bytes": total_bytes,
        "record_bytes_sampled": {"p10": sizes[len(sizes) // 10], "median": sizes[len(sizes) // 2],
                                 "p90": sizes[len(sizes) * 9 // 10], "max": sizes[-1]},
        "generate_seconds": round(time.perf_counter() - t0, 1),
    }
    if check:
        spot_check(target, files, check, seed)
    manifest["complete"] = True
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def spot_check(target: Path, files: list[dict], n: int, seed: int) -> None:
    """Validate n records (spread over the files) and one whole collection wrapper against the MODS XSD."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # after a snapshot given by GRANARY_BENCH_CODE
    from metadata.formats import MODS
    rng = random.Random(seed)
    picks = sorted(rng.sample(range(len(files)), min(len(files), 5)))
    checked = 0
    for k in picks:
        root = etree.parse(str(target / files[k]["path"])).getroot()
        members = list(root)
        for el in rng.sample(members, min(len(members), max(1, n // len(picks)))):
            issues = MODS.validate(el)
            if issues:
                raise SystemExit(f"generated record is not valid MODS: {files[k]['path']}: {issues[0]}")
            checked += 1
    issues = MODS.validate(etree.parse(str(target / "touch" / "touched.xml")).getroot())
    if issues:
        raise SystemExit(f"touch file is not valid MODS: {issues[0]}")
    print(f"validated {checked} sampled records and the touch file against MODS 3.8", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    ap.add_argument("--check", type=int, default=200, help="records to validate against the XSD (0: none)")
    a = ap.parse_args()
    m = generate(a.size, a.seed, a.out, a.check)
    print(json.dumps({k: m[k] for k in ("size", "bytes", "record_bytes_sampled", "generate_seconds")}))


if __name__ == "__main__":
    main()
