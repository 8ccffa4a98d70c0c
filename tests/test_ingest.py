"""Ingest: the real corpus loads, bad input is refused whole, datestamps move only on change."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from repository.db.tables import disseminations, record_sets, record_sources, records, sets
from repository.ingest.pipeline import IngestError, ingest
from repository.store import writes
from repository.store.errors import SetError
from tests.fixtures import corpus_paths, dc_corpus
from tests.shared import CORPUS


def _snapshot(engine) -> dict:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t)).all())
                for t in (records, sets, record_sets, disseminations)}


def _stamps(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(records.c.local_id, records.c.stamp)).all())


def test_the_whole_valid_corpus_loads(settings, engine, registry):
    paths = corpus_paths("mods/*.xml") + dc_corpus()
    report = ingest(paths, settings, engine, registry, ids_from_record=False)
    assert report.added == len(paths) and not report.problems
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(disseminations)).scalar_one()
    assert n == 2 * len(paths), "every record is stored in both formats"


def test_saved_oai_responses_load(settings, engine, registry):
    report = ingest([CORPUS / "responses/harvard-ListRecords-mods.xml",
                     CORPUS / "responses/zenodo-ListRecords-metadataPrefix_oai_dc.xml",
                     CORPUS / "responses/oai-spec-ex-sec4.6a.xml"], settings, engine, registry)
    assert report.added >= 10 and not report.problems


@pytest.mark.parametrize("path", corpus_paths("invalid/mods/*.xml", "invalid/oai_dc/*.xml", "invalid/other/*.xml"),
                         ids=lambda p: p.name)
def test_invalid_real_world_input_is_rejected_with_a_located_message(settings, engine, registry, path):
    good = corpus_paths("mods/stanford-bb0*.xml")
    ingest(good[:1], settings, engine, registry, ids_from_record=False)
    before = _snapshot(engine)
    with pytest.raises(IngestError) as err:
        ingest(good[1:] + [path], settings, engine, registry, ids_from_record=False)
    problems = err.value.report.problems
    assert problems and all(p.source == str(path) for p in problems)
    assert any(p.line for p in problems), "the message names a line"
    assert _snapshot(engine) == before, "a refused batch changes nothing"


def test_a_bad_record_in_the_middle_of_a_batch_writes_nothing(settings, engine, registry, tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    for p in corpus_paths("mods/stanford-*.xml")[:6]:
        shutil.copy(p, batch / p.name)
    shutil.copy(CORPUS / "invalid/mods/dpla-nypl.xml", batch / "stanford-bb05-middle.xml")
    with pytest.raises(IngestError) as err:
        ingest([batch], settings, engine, registry, ids_from_record=False)
    (problem,) = err.value.report.problems
    assert problem.line == 3 and "supplied" in problem.message and problem.record == "stanford-bb05-middle"
    assert "/mods/titleInfo" in problem.message
    assert _snapshot(engine)["records"] == []


def test_zip_archives_and_directories(settings, engine, registry, tmp_path):
    archive = tmp_path / "records.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in corpus_paths("mods/fsu-*.xml"):
            z.write(p, f"fsu/{p.name}")
        z.writestr("README.txt", "not a record")
    folder = tmp_path / "dir" / "nested"
    folder.mkdir(parents=True)
    shutil.copy(CORPUS / "oai_dc/zenodo-oai_zenodo.org_35602.xml", folder)
    report = ingest([archive, tmp_path / "dir"], settings, engine, registry)
    assert report.added == 4


def test_mods_collection_files_are_split_into_records(settings, engine, registry, tmp_path):
    from lxml import etree

    coll = etree.Element("{http://www.loc.gov/mods/v3}modsCollection", nsmap={None: "http://www.loc.gov/mods/v3"})
    for p in corpus_paths("mods/tamboti-*.xml")[:3]:
        coll.append(etree.parse(str(p)).getroot())
    path = tmp_path / "collection.xml"
    path.write_bytes(etree.tostring(coll, xml_declaration=True, encoding="utf-8"))
    report = ingest([path], settings, engine, registry)
    assert report.added == 3


def test_local_identifier_rules_are_reported(settings, engine, registry, tmp_path):
    report = ingest([CORPUS / "mods/stanford-bb013fz9675.xml", CORPUS / "oai_dc/zenodo-oai_zenodo.org_35602.xml",
                     CORPUS / "mods/princeton-pudl0017-wc064.xml"], settings, engine, registry)
    assert sum(report.id_rules.values()) == 3
    assert "dc:identifier" in report.id_rules
    with engine.connect() as conn:
        ids = set(conn.execute(sa.select(records.c.local_id)).scalars())
    assert "https://doi.org/10.5281/zenodo.35602" in ids


def test_duplicate_identifiers_within_a_batch_are_refused_with_advice(settings, engine, registry):
    paths = [CORPUS / "mods/loc-metsprofile-00000002-1.xml", CORPUS / "mods/loc-metsprofile-00000004-1.xml"]
    with pytest.raises(IngestError) as err:
        ingest(paths, settings, engine, registry)
    assert "--id-from filename" in str(err.value.report.problems[0])
    assert ingest(paths, settings, engine, registry, ids_from_record=False).added == 2


def test_only_format_refuses_other_formats(settings, engine, registry):
    with pytest.raises(IngestError) as err:
        ingest([CORPUS / "oai_dc/zenodo-oai_zenodo.org_35602.xml"], settings, engine, registry, only_format="mods")
    assert "--format mods" in str(err.value.report.problems[0])


def test_unsafe_xml_is_refused(settings, engine, registry, tmp_path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
                    '<mods xmlns="http://www.loc.gov/mods/v3"><titleInfo><title>&lol2;</title></titleInfo></mods>')
    xxe = tmp_path / "xxe.xml"
    xxe.write_text('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
                   'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&x;</dc:title></oai_dc:dc>')
    for path in (bomb, xxe):
        with pytest.raises(IngestError) as err:
            ingest([path], settings, engine, registry)
        assert "DOCTYPE" in str(err.value.report.problems[0])
    assert _snapshot(engine)["records"] == []


def test_unknown_set_is_refused_and_nothing_written(settings, engine, registry):
    with pytest.raises(SetError, match="granary sets add"):
        ingest(corpus_paths("mods/fsu-*.xml"), settings, engine, registry, frozenset({"nope"}))
    assert _snapshot(engine)["records"] == []


def test_reingesting_identical_records_keeps_datestamps(settings, engine, registry):
    paths = corpus_paths("mods/princeton-*.xml")
    ingest(paths, settings, engine, registry, ids_from_record=False)
    before = _stamps(engine)
    report = ingest(paths, settings, engine, registry, ids_from_record=False)
    assert (report.added, report.updated, report.unchanged) == (0, 0, len(paths))
    assert _stamps(engine) == before


def _analyzed(engine) -> dict[str, object]:
    """When each table was last analyzed, for those that were."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT relname, last_analyze FROM pg_stat_user_tables "
                                         "WHERE schemaname = current_schema() AND last_analyze IS NOT NULL")).all())


def test_first_and_bulk_ingests_refresh_postgresql_statistics(settings, engine, registry, monkeypatch):
    """Where autovacuum is slow or off, the planner would otherwise plan list pages as if the
    tables held a few rows. The first records ever written are analyzed, then any write of
    ANALYZE_AFTER records or more; smaller ones leave the statistics as they are."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's plans do not depend on statistics here (tests/test_query_plans.py)")
    tables = {"records", "record_sets", "disseminations", "search_documents"}
    paths = corpus_paths("mods/princeton-*.xml")
    monkeypatch.setattr(writes, "ANALYZE_AFTER", len(paths) + 1)
    assert not _analyzed(engine)
    ingest(paths[:2], settings, engine, registry, ids_from_record=False)
    first = _analyzed(engine)
    assert set(first) >= tables

    ingest(paths[2:], settings, engine, registry, ids_from_record=False)
    assert _analyzed(engine) == first
    monkeypatch.setattr(writes, "ANALYZE_AFTER", 1)
    ingest(corpus_paths("mods/stanford-*.xml"), settings, engine, registry, ids_from_record=False)
    again = _analyzed(engine)
    assert all(again[t] > first[t] for t in tables)


def test_whitespace_only_changes_keep_the_datestamp(settings, engine, registry, tmp_path):
    src = CORPUS / "mods/fsu-FSU_MSS0204_B01_F10_09.xml"
    ingest([src], settings, engine, registry)
    before = _stamps(engine)
    reformatted = tmp_path / src.name
    reformatted.write_bytes(src.read_bytes().replace(b"\n", b"\n    "))
    assert ingest([reformatted], settings, engine, registry).unchanged == 1
    assert _stamps(engine) == before


def test_changed_metadata_moves_the_datestamp_forward(settings, engine, registry, tmp_path):
    src = CORPUS / "mods/fsu-FSU_MSS0204_B01_F10_09.xml"
    ingest([src], settings, engine, registry)
    (local, before), = _stamps(engine).items()
    changed = tmp_path / src.name
    changed.write_bytes(src.read_bytes().replace(b"</titleInfo>", b"<subTitle>revised</subTitle></titleInfo>", 1))
    assert ingest([changed], settings, engine, registry).updated == 1
    assert _stamps(engine)[local] > before


def test_set_membership_change_moves_the_datestamp(settings, engine, registry):
    writes.add_set(engine, 60, "fsu", "Florida State", None)
    paths = corpus_paths("mods/fsu-*.xml")
    ingest(paths, settings, engine, registry)
    before = _stamps(engine)
    assert ingest(paths, settings, engine, registry, frozenset({"fsu"})).updated == len(paths)
    after = _stamps(engine)
    assert all(after[k] > before[k] for k in before)
    assert ingest(paths, settings, engine, registry, frozenset({"fsu"})).unchanged == len(paths)


def test_delete_then_reingest_revives_the_record(settings, engine, registry):
    src = CORPUS / "mods/fsu-FSU_MSS0204_B01_F10_09.xml"
    ingest([src], settings, engine, registry)
    (local, s1), = _stamps(engine).items()
    assert writes.delete_record(engine, 60, local) is True
    assert writes.delete_record(engine, 60, local) is False
    s2 = _stamps(engine)[local]
    assert s2 > s1
    assert ingest([src], settings, engine, registry).updated == 1
    assert _stamps(engine)[local] > s2


def test_removing_a_set_updates_its_members(settings, engine, registry):
    writes.add_set(engine, 60, "fsu", "Florida State", None)
    writes.add_set(engine, 60, "fsu:mss", "Manuscripts", None)
    with pytest.raises(SetError, match="subset"):
        writes.remove_set(engine, 60, "fsu")
    ingest(corpus_paths("mods/fsu-*.xml"), settings, engine, registry, frozenset({"fsu:mss"}))
    before = _stamps(engine)
    assert writes.remove_set(engine, 60, "fsu:mss") == 3
    assert all(_stamps(engine)[k] > before[k] for k in before)
    with engine.connect() as conn:
        assert conn.execute(sa.select(records.c.set_specs)).scalars().all() == ["", "", ""]
        assert conn.execute(sa.select(sa.func.count()).select_from(record_sets)).scalar_one() == 0


def test_set_admin_validates_specs_and_parents(engine):
    with pytest.raises(SetError, match="not a valid setSpec"):
        writes.add_set(engine, 60, "bad spec", "x", None)
    with pytest.raises(SetError, match="parent set"):
        writes.add_set(engine, 60, "a:b", "x", None)
    with pytest.raises(SetError, match="XML 1.0"):
        writes.add_set(engine, 60, "a", "bell\x07", None)
    with pytest.raises(SetError, match="XML 1.0"):
        writes.add_set(engine, 60, "a", "A", "form feed \x0c")
    writes.add_set(engine, 60, "a", "A", None)
    with pytest.raises(SetError, match="already exists"):
        writes.add_set(engine, 60, "a", "A", None)


def test_native_xml_is_kept_exactly_as_ingested(settings, engine, registry):
    src = CORPUS / "mods/stanford-bb013fz9675.xml"
    ingest([src], settings, engine, registry)
    with engine.connect() as conn:
        assert conn.execute(sa.select(record_sources.c.native_xml)).scalar_one() == Path(src).read_bytes()
