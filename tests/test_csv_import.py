"""`granary import-csv`: a spreadsheet, one row per record, becomes harvestable MODS or oai_dc.

What matters to the librarian: the records say what the cells said (names with
their roles, dates, subjects, non-Latin scripts), every refusal names the row
and the column to fix, a refused sheet leaves the store exactly as it was, and
a dry run writes nothing.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from lxml import etree

from repository.csvimport.columns import ColumnError, column_letter, parse_column
from repository.csvimport.importer import CsvImportError, import_csv
from repository.csvimport.read import read_sheet, split_values
from repository.db.tables import record_sources, records
from repository.store import writes
from tests.oai import NS, oai_get
from tests.test_cli import Granary

M = "{http://www.loc.gov/mods/v3}"
SUMMARY = re.compile(r"^added (\d+), updated (\d+), unchanged (\d+), rejected 0$", re.M)


@pytest.fixture
def granary(db_url, tmp_path, monkeypatch):
    from repository import cli

    created: list = []
    real = cli.create_app

    def tracked(*args, **kwargs):
        app = real(*args, **kwargs)
        created.append(app)
        return app

    monkeypatch.setattr(cli, "create_app", tracked)
    monkeypatch.chdir(tmp_path)
    g = Granary(db_url, created)
    assert g("init").exit_code == 0
    yield g
    g.engine.dispose()


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", bom: bool = False,
              encoding: str = "utf-8") -> Path:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding))
    return path


def stored(engine) -> dict[str, tuple[str, bytes]]:
    with engine.connect() as conn:
        return {r.local_id: (r.native_format, r.native_xml) for r in conn.execute(
            sa.select(records.c.local_id, records.c.native_format, record_sources.c.native_xml).join(record_sources, record_sources.c.record_id == records.c.id))}


def snapshot(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(records.c.local_id, records.c.stamp, records.c.content_hash,
                                      records.c.set_specs, records.c.deleted).order_by(records.c.local_id)).all()


def native(engine, local_id: str) -> etree._Element:
    return etree.fromstring(stored(engine)[local_id][1])


def get_record(client, local_id: str, prefix: str) -> etree._Element:
    root = oai_get(client, verb="GetRecord", identifier=f"oai:granary.test:{local_id}", metadataPrefix=prefix)
    (metadata,) = root.findall("oai:GetRecord/oai:record/oai:metadata/*", NS)
    return metadata


def texts(root: etree._Element, path: str) -> list[str]:
    return [el.text for el in root.iterfind(path, NS)]


MODS_SHEET = [
    ["id", "titleInfo/title", "titleInfo/subTitle", "name[@type=personal][role/roleTerm=author]/namePart",
     "name[@type=personal][role/roleTerm=rcp]/namePart", "name[@type=corporate]/namePart",
     "originInfo/dateCreated", "originInfo/dateIssued", "subject[@authority=lcsh]/topic", "subject/geographic",
     "language/languageTerm", "typeOfResource", "location/url"],
    ["r1", "Letter to Stalin", "with a note", "Gao Gang|Kim Il Sung", "Stalin, Joseph, 1878-1953", "Politburo",
     "1951-06-14", "1950/1953", "Korean War, 1950-1953--Armistices|Neutral zones", "Taiwan", "rus|Russian", "text",
     "https://example.org/r1"],
]


# --- the template ------------------------------------------------------------------------------

def test_the_template_imports_as_a_valid_record_harvestable_in_both_formats(granary, client, tmp_path):
    made = granary("import-csv", "--template", tmp_path / "t.csv")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "t.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    assert "docs/csv-import.md" in made.output
    result = granary("import-csv", tmp_path / "t.csv")
    assert result.exit_code == 0, result.output
    assert SUMMARY.search(result.output).groups() == ("1", "0", "0")
    mods = get_record(client, "110365", "mods")
    assert texts(mods, "mods:recordInfo/mods:recordIdentifier") == ["110365"]
    assert texts(mods, "mods:name/mods:namePart")[:3] == ["Gao Gang", "Kim Il Sung", "Mao Zedong"]
    dc = get_record(client, "110365", "oai_dc")  # oai_get checks both against the official schemas
    assert texts(dc, "dc:creator") == ["Gao Gang", "Kim Il Sung", "Mao Zedong"]
    assert texts(dc, "dc:contributor") == ["Stalin, Joseph, 1878-1953"]
    assert "Taiwan" in texts(dc, "dc:coverage")


def test_template_refuses_to_overwrite_and_can_go_to_standard_output(granary, tmp_path):
    (tmp_path / "granary-template.csv").write_text("mine")
    again = granary("import-csv", "--template")
    assert again.exit_code != 0 and "exists already" in again.output
    assert (tmp_path / "granary-template.csv").read_text() == "mine"
    out = granary("import-csv", "--template", "-")
    assert out.exit_code == 0 and out.output.startswith("id,titleInfo/title,")


def test_template_needs_no_configured_store(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from repository import cli

    monkeypatch.chdir(tmp_path)
    env = {k: None for k in __import__("os").environ if k.startswith("GRANARY_")}
    result = CliRunner().invoke(cli.main, ["import-csv", "--template"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "granary-template.csv").exists()


# --- what the records say --------------------------------------------------------------------------

def test_a_dc_only_sheet_makes_native_oai_dc_records(settings, engine, registry, client, tmp_path):
    sheet = write_csv(tmp_path / "dc.csv", [
        ["id", "Title", "creator", "date", "identifier", "subject", "type"],
        ["d1", "A map of Seoul", "Kim, Jung-ho", "1861", "https://example.org/d1", "Seoul|Maps", "StillImage"],
        ["d2", "Second", "", "", "d2", "", ""],
    ])
    report = import_csv(sheet, settings, engine, registry)
    assert (report.native_format, report.added) == ("oai_dc", 2)
    assert {k: v[0] for k, v in stored(engine).items()} == {"d1": "oai_dc", "d2": "oai_dc"}
    dc = get_record(client, "d1", "oai_dc")
    assert texts(dc, "dc:identifier") == ["d1", "https://example.org/d1"]  # the id first: it names the record
    assert texts(dc, "dc:subject") == ["Seoul", "Maps"]
    assert texts(get_record(client, "d2", "oai_dc"), "dc:identifier") == ["d2"]  # not repeated
    mods = get_record(client, "d1", "mods")
    assert texts(mods, "mods:typeOfResource") == ["still image"]


def test_a_mods_sheet_makes_names_roles_dates_and_subjects(settings, engine, registry, tmp_path):
    report = import_csv(write_csv(tmp_path / "m.csv", MODS_SHEET), settings, engine, registry)
    assert (report.native_format, report.added) == ("mods", 1)
    mods = native(engine, "r1")
    ti = mods.findall(f"{M}titleInfo")
    assert len(ti) == 1 and [c.text for c in ti[0]] == ["Letter to Stalin", "with a note"]
    names = mods.findall(f"{M}name")
    assert [(n.get("type"), n.findtext(f"{M}namePart"), [t.text for t in n.iter(f"{M}roleTerm")]) for n in names] == [
        ("personal", "Gao Gang", ["author", "aut"]), ("personal", "Kim Il Sung", ["author", "aut"]),
        ("personal", "Stalin, Joseph, 1878-1953", ["addressee", "rcp"]), ("corporate", "Politburo", [])]
    (origin,) = mods.findall(f"{M}originInfo")
    assert [(etree.QName(d).localname, d.text, d.get("encoding"), d.get("point"), d.get("keyDate")) for d in origin] == [
        ("dateCreated", "1951-06-14", "w3cdtf", None, "yes"), ("dateIssued", "1950", "w3cdtf", "start", None),
        ("dateIssued", "1953", "w3cdtf", "end", None)]
    subjects = mods.findall(f"{M}subject")
    assert [(s.get("authority"), etree.QName(s[0]).localname, s[0].text) for s in subjects] == [
        ("lcsh", "topic", "Korean War, 1950-1953--Armistices"), ("lcsh", "topic", "Neutral zones"),
        (None, "geographic", "Taiwan")]
    langs = [(t.get("type"), t.get("authority"), t.text) for t in mods.iter(f"{M}languageTerm")]
    assert langs == [("code", "iso639-2b", "rus"), ("text", None, "Russian")]
    assert mods.findtext(f"{M}recordInfo/{M}recordIdentifier") == "r1"


def test_dc_columns_in_a_mods_sheet_follow_the_dc_to_mods_crosswalk(settings, engine, registry, tmp_path):
    sheet = write_csv(tmp_path / "mix.csv", [
        ["id", "title", "creator", "date", "originInfo/publisher", "physicalDescription/extent", "format"],
        ["x1", "Mixed", "Doe, Jane", "1999", "Granary Press", "30 cm", "text/plain"],
    ])
    import_csv(sheet, settings, engine, registry)
    mods = native(engine, "x1")
    name = mods.find(f"{M}name")
    assert name.get("type") is None and name.findtext(f"{M}role/{M}roleTerm") == "creator"  # as docs/crosswalks.md
    (origin,) = mods.findall(f"{M}originInfo")  # the DC date and the MODS publisher share one originInfo
    assert [(etree.QName(c).localname, c.text, c.get("keyDate")) for c in origin] == [
        ("dateIssued", "1999", "yes"), ("publisher", "Granary Press", None)]
    (physical,) = mods.findall(f"{M}physicalDescription")
    assert sorted(etree.QName(c).localname for c in physical) == ["extent", "internetMediaType"]
    assert mods.find(f"{M}recordInfo/{M}recordOrigin") is None  # not "converted from DC": it came from a sheet


def test_repeated_values_and_an_escaped_bar(settings, engine, registry, tmp_path):
    assert split_values(" a | b ||c\\|d |") == ["a", "b", "c|d"]
    sheet = write_csv(tmp_path / "r.csv", [["id", "titleInfo/title", "note"], ["p1", "One|Two", "A \\| B"]])
    import_csv(sheet, settings, engine, registry)
    mods = native(engine, "p1")
    assert [t.text for t in mods.iter(f"{M}title")] == ["One", "Two"]
    assert mods.findtext(f"{M}note") == "A | B"


def test_non_latin_scripts_survive_in_both_formats(settings, engine, registry, client, tmp_path):
    sheet = write_csv(tmp_path / "k.csv", [
        ["id", "titleInfo/title", "titleInfo[@type=translated][@lang=kor]/title", "subject/topic"],
        ["k1", "Письмо Сталину", "스탈린에게 보낸 편지", "Корейская война|한국 전쟁"],
    ])
    import_csv(sheet, settings, engine, registry)
    mods = get_record(client, "k1", "mods")
    assert texts(mods, "mods:titleInfo/mods:title") == ["Письмо Сталину", "스탈린에게 보낸 편지"]
    assert mods.find("mods:titleInfo[2]", NS).get("lang") == "kor"
    dc = get_record(client, "k1", "oai_dc")
    assert "스탈린에게 보낸 편지" in texts(dc, "dc:title") and "한국 전쟁" in texts(dc, "dc:subject")


# --- reading the file --------------------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("bom", [False, True])
def test_bom_or_not_and_any_common_delimiter_give_the_same_record(settings, engine, registry, tmp_path,
                                                                   bom, delimiter):
    rows = [["id", "title", "description"], ["b1", "Ä title; with, punctuation", "Ünïcode"]]
    report = import_csv(write_csv(tmp_path / "b.csv", rows, delimiter, bom), settings, engine, registry)
    assert report.delimiter == delimiter and report.added == 1
    dc = native(engine, "b1")
    assert texts(dc, "dc:title") == ["Ä title; with, punctuation"] and texts(dc, "dc:description") == ["Ünïcode"]


def test_a_latin1_file_is_refused_with_a_clear_error(granary, tmp_path):
    sheet = write_csv(tmp_path / "latin1.csv", [["id", "title"], ["l1", "plain"], ["l2", "Café"]],
                      encoding="latin-1")
    result = granary("import-csv", sheet)
    assert result.exit_code == 1
    assert "latin1.csv is not UTF-8 (byte 0xe9 at line 3); save it as UTF-8" in result.output
    assert "nothing was written" in result.output and granary.local_ids() == {}


def test_empty_rows_are_skipped_and_row_numbers_stay_those_of_the_sheet(settings, engine, registry, tmp_path):
    sheet = write_csv(tmp_path / "e.csv", [["id", "typeOfResource"], ["", ""], ["e1", "text"], [",", ""],
                                           ["e2", "txt"]])
    sheet.write_bytes(sheet.read_bytes().replace(b'","', b""))
    with pytest.raises(CsvImportError) as err:
        import_csv(sheet, settings, engine, registry)
    (problem,) = err.value.report.problems
    assert str(problem).startswith("{}, row 5, column B (typeOfResource), record 'e2': 'txt' is not".format(sheet))
    assert read_sheet(sheet.read_bytes(), "e.csv").empty_rows == 2


# --- refusals -------------------------------------------------------------------------------------------

def test_an_unknown_column_is_named_with_its_letter_and_a_suggestion(granary, tmp_path):
    sheet = write_csv(tmp_path / "u.csv", [["id", "title", "titleInfo/titel", "colour"], ["u1", "T", "x", "red"]])
    result = granary("import-csv", sheet)
    assert result.exit_code == 1
    assert f"error: {sheet}, header row, column C (titleInfo/titel): unknown column (did you mean " \
           "'titleInfo/title'?)" in result.output
    assert f"error: {sheet}, header row, column D (colour): unknown column;" in result.output
    assert granary.local_ids() == {}


@pytest.mark.parametrize("header, message", [
    ("name[@type=person]/namePart", "name/@type must be one of personal, corporate, conference, family"),
    ("subject[@type=x]/topic", "subject in subject/topic cannot carry [type=…] (allowed: [@authority=…], [@lang=…])"),
    ("recordInfo/recordIdentifier", "the `id` column fills recordInfo/recordIdentifier"),
    ("typeOfResource[@authority", "unknown column"),
])
def test_malformed_mods_columns_say_what_is_allowed(header, message):
    with pytest.raises(ColumnError, match=re.escape(message)):
        parse_column(1, header)


def test_column_letters_run_like_a_spreadsheet():
    assert [column_letter(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == \
        ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]


@pytest.mark.parametrize("column, bad, message", [
    ("typeOfResource", "txt", "'txt' is not a MODS typeOfResource"),
    ("physicalDescription/digitalOrigin", "scanned", "Element 'digitalOrigin': [facet 'enumeration'] The value "
                                                     "'scanned' is not an element of the set"),  # the schema's word
    ("location/url", "www example org", "'www example org' is not a URL"),
])
def test_a_bad_value_in_row_3_of_5_writes_nothing_and_names_row_and_column(settings, engine, registry, tmp_path,
                                                                         column, bad, message):
    good = {"typeOfResource": "text", "physicalDescription/digitalOrigin": "born digital",
            "location/url": "https://example.org/"}[column]
    import_csv(write_csv(tmp_path / "first.csv", [["id", "title"], ["n1", "Already here"]]), settings, engine,
               registry)
    before = snapshot(engine)
    rows = [["id", "titleInfo/title", column]] + [[f"n{i}", f"Title {i}", bad if i == 2 else good]
                                                   for i in range(1, 6)]
    with pytest.raises(CsvImportError) as err:
        import_csv(write_csv(tmp_path / "batch.csv", rows), settings, engine, registry)
    (problem,) = err.value.report.problems
    assert problem.source == f"{tmp_path / 'batch.csv'}, row 3, column C ({column})"
    assert problem.record == "n2" and message in problem.message
    assert err.value.report.rejected == 1
    assert snapshot(engine) == before  # n1 would have been updated, n3..n5 added: none of it happened


def test_missing_empty_and_duplicate_ids_are_refused(settings, engine, registry, tmp_path):
    with pytest.raises(CsvImportError) as err:
        import_csv(write_csv(tmp_path / "noid.csv", [["title"], ["T"]]), settings, engine, registry)
    assert "there is no `id` column" in str(err.value.report.problems[0])
    rows = [["id", "title"], ["a", "1"], ["", "2"], ["a", "3"]]
    with pytest.raises(CsvImportError) as err:
        import_csv(write_csv(tmp_path / "ids.csv", rows), settings, engine, registry)
    assert [str(p).split(": ", 1)[1] for p in err.value.report.problems] == [
        "no id: every row needs its local identifier", "id 'a' is also the id of row 2"]
    assert [p.source.split(", ", 1)[1] for p in err.value.report.problems] == [
        "row 3, column A (id)", "row 4, column A (id)"]
    assert stored(engine) == {}


def test_control_characters_and_cells_beyond_the_header_are_refused(settings, engine, registry, tmp_path):
    rows = [["id", "title"], ["c1", "bell\x07"], ["c2", "ok", "stray"]]
    with pytest.raises(CsvImportError) as err:
        import_csv(write_csv(tmp_path / "c.csv", rows), settings, engine, registry)
    got = {p.source.split(", ", 1)[1]: p.message for p in err.value.report.problems}
    assert "XML cannot carry" in got["row 2, column B (title)"]
    assert "more cells than the header row names" in got["row 3"]


# --- the command ---------------------------------------------------------------------------------------

def test_cli_summary_dry_run_and_reimport(granary, tmp_path):
    sheet = write_csv(tmp_path / "m.csv", MODS_SHEET + [["r2", "Second"] + [""] * 11, [""] * 13])
    dry = granary("import-csv", sheet, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"read 2 row(s) from {sheet}, comma-separated (1 empty row(s) skipped); records built as mods" \
        in dry.output
    assert "dry run: would add 2, update 0, leave 0 unchanged; nothing was written" in dry.output
    assert granary.local_ids() == {}
    first = granary("import-csv", sheet)
    assert SUMMARY.search(first.output).groups() == ("2", "0", "0")
    before = granary.snapshot()
    again = granary("import-csv", sheet)
    assert SUMMARY.search(again.output).groups() == ("0", "0", "2")
    assert granary.snapshot() == before  # unchanged rows keep their datestamps
    write_csv(sheet, MODS_SHEET + [["r2", "Second, revised"] + [""] * 11])
    assert "would add 0, update 1, leave 1 unchanged" in granary("import-csv", sheet, "--dry-run").output
    assert SUMMARY.search(granary("import-csv", sheet).output).groups() == ("0", "1", "1")


def test_cli_refusal_lists_every_problem_and_exits_1(granary, tmp_path):
    rows = [["id", "typeOfResource"], ["a", "txt"], ["b", "text"], ["c", "pamphlet"]]
    result = granary("import-csv", write_csv(tmp_path / "bad.csv", rows))
    assert result.exit_code == 1
    assert len(re.findall(r"^error: .*bad\.csv, row [24], column B \(typeOfResource\)", result.output, re.M)) == 2
    assert "rejected: 2 of 3 row(s) invalid; nothing was written (the store is unchanged)" in result.output
    assert granary.local_ids() == {}


def test_set_option_adds_every_record_and_an_unknown_set_writes_nothing(granary, tmp_path):
    sheet = write_csv(tmp_path / "s.csv", [["id", "title"], ["s1", "One"], ["s2", "Two"]])
    for args in (["--dry-run"], []):
        missing = granary("import-csv", sheet, "--set", "letters", *args)
        assert missing.exit_code == 1 and "set 'letters' does not exist" in missing.output
        assert "nothing was written" in missing.output
    assert granary.local_ids() == {}
    assert granary("sets", "add", "letters", "Letters").exit_code == 0
    assert SUMMARY.search(granary("import-csv", sheet, "--set", "letters").output).groups() == ("2", "0", "0")
    with granary.engine.connect() as conn:
        assert dict(conn.execute(sa.select(records.c.local_id, records.c.set_specs)).all()) == {"s1": "letters",
                                                                                          "s2": "letters"}


def test_usage_errors(granary, tmp_path):
    assert "give the CSV FILE" in granary("import-csv").output
    assert granary("import-csv", tmp_path / "nope.csv").exit_code == 1


def test_a_record_already_stored_from_xml_is_updated_in_place(settings, engine, registry, tmp_path):
    """The sheet and the ingest share one identifier rule, so a sheet can correct ingested records."""
    import_csv(write_csv(tmp_path / "one.csv", [["id", "title"], ["z1", "Old"]]), settings, engine, registry)
    writes.delete_record(engine, settings.write_lease_timeout_seconds, "z1")
    report = import_csv(write_csv(tmp_path / "two.csv", [["id", "title"], ["z1", "Old"]]), settings, engine,
                        registry)
    assert (report.added, report.updated) == (0, 1)  # a tombstone comes back to life
