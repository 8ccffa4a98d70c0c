"""The `granary` command as a librarian uses it: configured by environment variables only.

Each invocation goes through Flask's FlaskGroup, which builds the app from the
environment afresh, exactly as in a shell; so these tests also check that the
settings a deployment sets are the ones the commands use. What matters to the
librarian is the wording (summaries they read, errors that say what to do),
the exit code (scripts and cron jobs test it) and that a refused command leaves
the store as it was.
"""
from __future__ import annotations

import json
import os
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from repository import cli
from repository.db import migrate
from repository.db.engine import make_engine
from repository.db.tables import record_sets, records, sets
from repository.demo.load import DEMO_DIR
from tests.shared import CORPUS

REPO_ID = "granary.test"
STANFORD = sorted(CORPUS.glob("mods/stanford-*.xml"))[:3]
INVALID = CORPUS / "invalid" / "mods" / "dpla-nypl.xml"
ID_RULE = re.compile(r"^local identifiers from (.+): (\d+)$", re.M)
SUMMARY = re.compile(r"^added (\d+), updated (\d+), unchanged (\d+), rejected (\d+)$", re.M)


class Granary:
    """Runs `granary ARGS` with a deployment's environment, against the test database."""

    def __init__(self, db_url: str, created: list) -> None:
        self.db_url = db_url
        self._created = created
        self.engine = make_engine(db_url)

    def env(self, **extra: str | None) -> dict[str, str | None]:
        # Unset every other GRANARY_* variable, so the caller's shell cannot change the outcome.
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("GRANARY_")}
        env.update({"GRANARY_DATABASE_URL": self.db_url, "GRANARY_SECRET_KEY": "cli-test-secret",
                    "GRANARY_REPOSITORY_IDENTIFIER": REPO_ID, "GRANARY_ADMIN_EMAIL": "librarian@granary.test"})
        env.update(extra)
        return env

    def __call__(self, *args: str, stdin: str | None = None, **env: str | None):
        result = CliRunner().invoke(cli.main, [str(a) for a in args], input=stdin, env=self.env(**env))
        # Each invocation built its own app and engine; close their connections now.
        while self._created:
            self._created.pop().extensions["granary"].engine.dispose()
        # A command may fail, but never with a traceback: only click's clean exits.
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
        return result

    def snapshot(self) -> tuple:
        """Everything a harvester could see change: records, stamps, flags, memberships, sets."""
        with self.engine.connect() as conn:
            return (conn.execute(sa.select(records.c.local_id, records.c.stamp, records.c.deleted,
                                           records.c.content_hash, records.c.set_specs)
                                 .order_by(records.c.local_id)).all(),
                    conn.execute(sa.select(record_sets).order_by(record_sets.c.record_id, record_sets.c.spec)).all(),
                    conn.execute(sa.select(sets).order_by(sets.c.spec)).all())

    def local_ids(self) -> dict[str, bool]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(records.c.local_id, records.c.deleted)).all())


@pytest.fixture
def granary(db_url, tmp_path, monkeypatch):
    created: list = []
    real_create_app = cli.create_app

    def create_app_tracked(*args, **kwargs):
        app = real_create_app(*args, **kwargs)
        created.append(app)
        return app

    monkeypatch.setattr(cli, "create_app", create_app_tracked)
    monkeypatch.chdir(tmp_path)  # a generated key file, if any, lands here and not in the checkout
    g = Granary(db_url, created)
    yield g
    g.engine.dispose()


@pytest.fixture
def ready(granary):
    result = granary("init")
    assert result.exit_code == 0, result.output
    return granary


def test_init_creates_the_schema_then_reports_it_up_to_date(granary):
    """A first init creates the schema; a second (every container start runs one) changes
    nothing and says so."""
    first = granary("init")
    assert first.exit_code == 0, first.output
    assert re.search(r"^database upgraded from empty to revision \S+$", first.output, re.M)
    revision = first.output.split()[-1]
    second = granary("init")
    assert second.exit_code == 0
    assert second.output.strip() == f"database is up to date (revision {revision})"


def test_init_makes_a_sqlite_store_of_64_kb_pages_in_wal_mode(granary):
    """A file takes its page size only while empty, before WAL mode fixes it: a pragma
    moved after the journal mode would silently leave 4 KB pages, and overflow chains."""
    if not granary.db_url.startswith("sqlite"):
        pytest.skip("page size and journal mode are SQLite's")
    assert granary("init").exit_code == 0
    with granary.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 65536
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize("args", [["ingest", str(STANFORD[0])], ["delete", "x"], ["sets", "list"],
                                  ["sets", "add", "s", "S"], ["sets", "remove", "s"], ["stats"], ["stats", "--json"]])
def test_commands_before_init_say_run_init(granary, args):
    """Before `granary init` every command that needs the store says how to make one,
    instead of failing on a missing table."""
    result = granary(*args)
    assert result.exit_code != 0
    assert "run `granary init`" in result.output


def test_head_revision_is_the_newest_migration():
    """Commands compare the store with `HEAD` without loading Alembic; a new migration must move it."""
    assert migrate.HEAD == migrate.alembic_head()


def test_a_store_behind_the_newest_revision_is_refused_until_init(ready):
    """A store an older Granary made is not written to by a newer one before its schema is upgraded."""
    with ready.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0005'"))
    result = ready("sets", "add", "s", "S")
    assert result.exit_code != 0
    assert "out of date: run `granary init`" in result.output
    with ready.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sets)).scalar() == 0


def test_bad_admin_email_is_a_clean_error(granary):
    """A typo in the deployment's settings is reported by name, without a traceback,
    whatever the command."""
    for args in (["init"], ["stats"]):
        result = granary(*args, GRANARY_ADMIN_EMAIL="librarian-at-granary")
        assert result.exit_code != 0
        assert "GRANARY_ADMIN_EMAIL" in result.output and "'librarian-at-granary'" in result.output


def test_ingest_into_a_set_then_reingest_is_unchanged(ready):
    """Ingest reports what it did and how it named the records; the same files again
    change nothing, so harvesters are not sent them again."""
    assert ready("sets", "add", "stanford", "Stanford University Libraries").exit_code == 0
    first = ready("ingest", "--set", "stanford", *STANFORD)
    assert first.exit_code == 0, first.output
    assert SUMMARY.findall(first.output) == [(str(len(STANFORD)), "0", "0", "0")]
    rules = ID_RULE.findall(first.output)
    assert rules and sum(int(n) for _, n in rules) == len(STANFORD)
    before = ready.snapshot()
    assert len(before[0]) == len(STANFORD)
    assert all(row.set_specs == "stanford" for row in before[0])

    again = ready("ingest", "--set", "stanford", *STANFORD)
    assert again.exit_code == 0
    assert SUMMARY.findall(again.output) == [("0", "0", str(len(STANFORD)), "0")]
    assert ready.snapshot() == before

    listed = ready("sets", "list")
    assert listed.output.splitlines() == [f"stanford\tStanford University Libraries\t{len(STANFORD)} records"]


def test_ingest_into_a_missing_set_is_refused(ready):
    result = ready("ingest", "--set", "nowhere", STANFORD[0])
    assert result.exit_code != 0
    assert "set 'nowhere' does not exist" in result.output and "nothing was written" in result.output
    assert ready.local_ids() == {}


def test_invalid_record_rejects_the_whole_batch(ready):
    """One schema-invalid record refuses the batch: exit code 1 for scripts, an error that
    names the file, the record and the line, and not even the valid records written."""
    ready("ingest", STANFORD[0])
    before = ready.snapshot()
    result = ready("ingest", STANFORD[1], INVALID)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors, result.output
    assert re.match(rf"^error: {re.escape(str(INVALID))}, record '[^']+', line \d+: \S", errors[0])
    assert "nothing was written" in result.output
    assert not SUMMARY.search(result.output)
    assert ready.snapshot() == before


def test_ingest_ids_from_filename(ready):
    """--id-from filename names records after their files, whatever identifiers they carry."""
    result = ready("ingest", "--id-from", "filename", *STANFORD)
    assert result.exit_code == 0, result.output
    assert ID_RULE.findall(result.output) == [("file name", str(len(STANFORD)))]
    assert ready.local_ids() == {p.stem: False for p in STANFORD}


def test_delete_withdraws_once_and_explains_repeats_and_unknowns(ready):
    """delete leaves a tombstone; a second delete is harmless and says so; an unknown
    identifier is an error a script can see. Full oai identifiers are accepted too."""
    ready("ingest", "--id-from", "filename", *STANFORD[:2])
    local = STANFORD[0].stem
    first = ready("delete", f"oai:{REPO_ID}:{local}")
    assert first.exit_code == 0
    assert first.output.strip() == f"deleted {local}"
    after_first = ready.snapshot()
    assert ready.local_ids() == {local: True, STANFORD[1].stem: False}

    second = ready("delete", local)
    assert second.exit_code == 0
    assert second.output.strip() == f"{local} was already deleted"
    assert ready.snapshot() == after_first  # the tombstone's datestamp does not move

    unknown = ready("delete", "no-such-record")
    assert unknown.exit_code != 0
    assert "no record with local identifier 'no-such-record'" in unknown.output
    assert ready.snapshot() == after_first


def test_delete_withdraws_a_list_in_one_transaction(ready, tmp_path):
    """A list of identifiers (a file with comments and blank lines, or standard input) is
    withdrawn in one transaction. Unknown identifiers are all reported, each with its file and
    line, and nothing is withdrawn; the corrected list then withdraws them all at once."""
    ready("ingest", "--id-from", "filename", *STANFORD)
    ids = [p.stem for p in STANFORD]
    listing = tmp_path / "withdraw.txt"
    listing.write_text(f"# withdrawn in November\n{ids[0]}\n\nno-such-1\noai:{REPO_ID}:{ids[1]}\nno-such-2\n")
    before = ready.snapshot()
    refused = ready("delete", "--from", listing)
    assert refused.exit_code != 0
    assert refused.output.splitlines()[-3:] == [
        f"Error: {listing} line 4: no record with local identifier 'no-such-1'",
        f"{listing} line 6: no record with local identifier 'no-such-2'",
        "nothing was withdrawn"]
    assert ready.snapshot() == before

    listing.write_text(f"# withdrawn in November\n{ids[0]}\n\noai:{REPO_ID}:{ids[1]}\n{ids[0]}\n")
    done = ready("delete", "--from", listing)
    assert (done.exit_code, done.output.strip()) == (0, "deleted 2; already deleted 0")
    assert ready.local_ids() == {ids[0]: True, ids[1]: True, ids[2]: False}
    after = ready.snapshot()

    piped = ready("delete", "--from", "-", stdin=f"{ids[1]}\n{ids[2]}\n")
    assert (piped.exit_code, piped.output.strip()) == (0, "deleted 1; already deleted 1")
    assert ready.local_ids() == {i: True for i in ids}
    assert ready.snapshot() != after

    typo = ready("delete", ids[0], "--from", "-", stdin="no-such-3\n")
    assert "standard input line 1: no record with local identifier 'no-such-3'" in typo.output
    assert ready("delete").exit_code == 2


def test_sets_add_list_remove_and_their_errors(ready):
    """Sets form a hierarchy that must be built parent first; bad specs and duplicates are
    refused with the reason; removing a set tells how many records left it."""
    assert ready("sets", "list").output.strip() == "no sets"
    assert ready("sets", "add", "maps", "Maps", "--description", "Cartographic material").output.strip() \
        == "added set maps"

    missing_parent = ready("sets", "add", "atlases:world", "World atlases")
    assert missing_parent.exit_code != 0
    assert "parent set 'atlases'" in missing_parent.output

    bad_spec = ready("sets", "add", "bad spec/", "Bad")
    assert bad_spec.exit_code != 0
    assert "'bad spec/' is not a valid setSpec" in bad_spec.output

    duplicate = ready("sets", "add", "maps", "Maps again")
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output

    assert ready("sets", "add", "maps:world", "World maps").exit_code == 0
    ready("ingest", "--id-from", "filename", "--set", "maps:world", *STANFORD[:2])
    assert ready("sets", "list").output.splitlines() == ["maps\tMaps\t2 records", "maps:world\tWorld maps\t2 records"]

    has_child = ready("sets", "remove", "maps")
    assert has_child.exit_code != 0 and "subset 'maps:world'" in has_child.output

    removed = ready("sets", "remove", "maps:world")
    assert removed.exit_code == 0
    assert removed.output.strip() == "removed set maps:world (2 records left it)"
    assert ready("sets", "list").output.splitlines() == ["maps\tMaps\t0 records"]

    gone = ready("sets", "remove", "maps:world")
    assert gone.exit_code != 0 and "set 'maps:world' does not exist" in gone.output


def test_stats_text_and_json_agree(ready):
    """stats counts live and deleted records per format and per set (ancestors included),
    in text for people and in JSON for monitoring."""
    ready("sets", "add", "maps", "Maps")
    ready("sets", "add", "maps:world", "World maps")
    ready("ingest", "--id-from", "filename", "--set", "maps:world", *STANFORD)
    ready("delete", STANFORD[0].stem)

    data = json.loads(ready("stats", "--json").output)
    assert data["records"] == len(STANFORD) - 1 and data["deleted"] == 1
    assert data["by_format"] == {"mods": len(STANFORD) - 1}
    n = {"live": len(STANFORD) - 1, "deleted": 1}
    assert data["sets"] == {"maps": n, "maps:world": n}
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    assert stamp.match(data["earliest_datestamp"]) and stamp.match(data["latest_datestamp"])
    assert data["earliest_datestamp"] <= data["latest_datestamp"]

    text = ready("stats").output.splitlines()
    assert text[0] == f"records: {len(STANFORD) - 1} live, 1 deleted"
    assert f"  native mods: {len(STANFORD) - 1}" in text
    assert f"earliest datestamp: {data['earliest_datestamp']}; latest: {data['latest_datestamp']}" in text
    assert f"  set maps:world: {len(STANFORD) - 1} live, 1 deleted" in text
    assert f"maps:world\tWorld maps\t{len(STANFORD) - 1} records, 1 deleted" in ready("sets", "list").output


def _demo_collection() -> dict:
    return json.loads((DEMO_DIR / "collection.json").read_text(encoding="utf-8"))


def test_demo_no_serve_loads_the_collection(granary):
    """`granary demo --no-serve` needs no init: it creates the store and loads every set and
    record of the demo collection, with its one withdrawal."""
    collection = _demo_collection()
    result = granary("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    n_sets, n_records, n_deleted = len(collection["sets"]), len(collection["records"]), len(collection["deleted"])
    assert result.output.strip() == (f"demo collection: {n_sets} sets added; records added {n_records}, "
                                     f"updated 0, unchanged 0; withdrawn {n_deleted}")
    assert granary.local_ids() == {local: local in collection["deleted"] for local in collection["records"]}
    listed = granary("sets", "list").output.splitlines()
    assert sorted(line.split("\t")[0] for line in listed) == sorted(s["spec"] for s in collection["sets"])


def test_demo_second_run_changes_nothing(granary):
    """The loader promises idempotence: running the demo again finds everything unchanged
    and moves no datestamp, so harvesters are not sent anything anew."""
    collection = _demo_collection()
    assert granary("demo", "--no-serve").exit_code == 0
    before = granary.snapshot()
    again = granary("demo", "--no-serve")
    assert again.exit_code == 0
    assert again.output.strip() == (f"demo collection: 0 sets added; records added 0, updated 0, "
                                    f"unchanged {len(collection['records'])}; withdrawn 0")
    assert granary.snapshot() == before
