"""The `granary` command: set-up, ingest, record and set administration, serving.

Built on Flask's click integration, so every command runs inside the same app
(settings, engine, crosswalk registry) that serves requests.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup
from tqdm import tqdm

from repository.app import AppState, create_app
from repository.commands.common import require_schema, state, store_call
from repository.commands.tokens import token_group
from repository.commands.search import search_group
from repository.commands.serving import serving_warnings
from repository.config import ConfigError
from repository.db.migrate import upgrade
from repository.ingest.pipeline import IngestError, auto_jobs, ingest
from repository.oai.dates import datestamp
from repository.store import queries, writes
from repository.store.errors import StoreError


class _FileOrCommand(AppGroup):
    """`granary crosswalk FILE` and `granary crosswalk check`: a first argument that
    names no subcommand is the FILE of the default subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["file", *args]
        return super().parse_args(ctx, args)


def _app_factory():
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_app_factory, add_default_commands=False, load_dotenv=False,
             set_debug_flag=False)
def main() -> None:
    """Granary: a harvestable metadata repository serving OAI-PMH 2.0."""


@main.command()
def init() -> None:
    """Create the database schema, or upgrade it to the newest version."""
    st = state()
    before, after = upgrade(st.engine)
    writes.record_creation_time(st.engine)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to revision {after}")


@main.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "set_specs", multiple=True, help="Add every record to this set (repeatable).")
@click.option("--format", "only_format", type=click.Choice(["mods", "oai_dc"]),
              help="Accept only records in this format.")
@click.option("--id-from", type=click.Choice(["record", "filename"]), default="record", show_default=True,
              help="Take local identifiers from the record's own identifiers, or from file names.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Worker processes that parse, validate and crosswalk (default: one per core for "
                   "directories, archives and many files; else 1).")
def ingest_command(paths: tuple[Path, ...], set_specs: tuple[str, ...], only_format: str | None,
                   id_from: str, jobs: int | None) -> None:
    """Load records from files, directories, zip archives and saved OAI-PMH responses."""
    st = require_schema()
    with tqdm(unit=" records", desc="ingest", disable=None, file=sys.stderr) as bar:
        try:
            report = ingest(list(paths), st.settings, st.engine, st.registry, frozenset(set_specs),
                            only_format, id_from == "record", progress=bar.update,
                            jobs=jobs or auto_jobs(list(paths)))
        except IngestError as exc:
            bar.close()
            for problem in exc.report.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo(f"rejected: {exc.report.rejected} record(s) invalid; nothing was written "
                       "(the store is unchanged)", err=True)
            sys.exit(1)
        except StoreError as exc:
            raise click.ClickException(f"{exc}; nothing was written") from None
    for rule, n in sorted(report.id_rules.items()):
        click.echo(f"local identifiers from {rule}: {n}")
    if report.skipped_deleted:
        click.echo(f"passed over {report.skipped_deleted} deleted record(s) in saved OAI-PMH responses "
                   "(they carry no metadata)")
    click.echo(f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, rejected 0")


@main.group("sets")
def sets_group() -> None:
    """List, add and remove sets."""


@sets_group.command("list")
def sets_list() -> None:
    st = require_schema()
    with st.engine.connect() as conn:
        counts = queries.stats(conn)["sets"]
        rows = queries.list_sets(conn, None, 1_000_000)
        rules = queries.set_rules(conn)
    for row in rows:
        n = counts.get(row.spec, {"live": 0, "deleted": 0})
        click.echo(f"{row.spec}\t{row.name}\t{n['live']} records" + (f", {n['deleted']} deleted" if n["deleted"] else "")
                   + (f"\trule: {rules[row.spec]}" if row.spec in rules else ""))
    if not rows:
        click.echo("no sets")


@sets_group.command("add")
@click.argument("spec")
@click.argument("name")
@click.option("--description", help="A description harvesters see in ListSets.")
@click.option("--rule", help="Make it a query-defined set: a JSON rule over the metadata (docs/sets.md).")
def sets_add(spec: str, name: str, description: str | None, rule: str | None) -> None:
    st = require_schema()
    members = store_call(writes.add_set, st.engine, st.settings.write_lease_timeout_seconds, spec, name,
                         description, rule)
    click.echo(f"added set {spec}" + (f" defined by its rule: {members} records match" if rule else ""))


@sets_group.command("rule")
@click.argument("spec")
@click.argument("rule", required=False)
@click.option("--clear", is_flag=True, help="Drop the rule; current members stay as explicit members.")
def sets_rule(spec: str, rule: str | None, clear: bool) -> None:
    """Set or clear the rule of a query-defined set; its membership is recomputed."""
    if bool(rule) == clear:
        raise click.UsageError("give either a RULE or --clear")
    st = require_schema()
    moved = store_call(writes.set_rule, st.engine, st.settings.write_lease_timeout_seconds, spec, rule)
    click.echo(f"set {spec}: rule cleared" if clear else f"set {spec}: rule set; {moved} records joined or left")


@sets_group.command("remove")
@click.argument("spec")
def sets_remove(spec: str) -> None:
    """Remove a set; its records stay, and their new datestamps tell harvesters."""
    st = require_schema()
    n = store_call(writes.remove_set, st.engine, st.settings.write_lease_timeout_seconds, spec)
    click.echo(f"removed set {spec} ({n} records left it)")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(as_json: bool) -> None:
    """Counts of records, deletions and set members."""
    st = require_schema()
    with st.engine.connect() as conn:
        s = queries.stats(conn)
    for key in ("latest_stamp", "earliest_stamp"):
        s[key.replace("_stamp", "_datestamp")] = datestamp(s.pop(key)) if s.get(key) is not None else None
    if as_json:
        click.echo(json.dumps(s, indent=2, sort_keys=True))
        return
    click.echo(f"records: {s['records']} live, {s['deleted']} deleted")
    for fmt, n in sorted(s["by_format"].items()):
        click.echo(f"  native {fmt}: {n}")
    click.echo(f"earliest datestamp: {s['earliest_datestamp']}; latest: {s['latest_datestamp']}")
    for spec, n in sorted(s["sets"].items()):
        click.echo(f"  set {spec}: {n['live']} live, {n['deleted']} deleted")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              envvar="GRANARY_WORKERS", help="gunicorn worker processes (env GRANARY_WORKERS).")
@click.option("--debug", is_flag=True, help="Use Flask's development server with the debugger instead.")
def serve(host: str, port: int, workers: int, debug: bool) -> None:
    """Serve the OAI-PMH endpoint with gunicorn."""
    st = require_schema()
    for warning in serving_warnings(st.settings, host, workers, debug):
        click.echo(warning, err=True)
    click.echo(f"serving OAI-PMH at http://{host}:{port}/oai", err=True)
    if debug:
        current_app.run(host=host, port=port, debug=True, use_reloader=False)
    else:
        _gunicorn(st, host, port, workers)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), envvar="GRANARY_WORKERS")
@click.option("--no-serve", is_flag=True, help="Load the demo collection and exit.")
def demo(host: str, port: int, workers: int, no_serve: bool) -> None:
    """Create the store, load the demo collection, and serve it."""
    from repository.demo.load import load_demo

    st = state()
    upgrade(st.engine)
    writes.record_creation_time(st.engine)
    result = load_demo(st.settings, st.engine, st.registry)
    _name_the_demo(st)
    w = result.written
    click.echo(f"demo collection: {result.sets_added} sets added; records added {w.added}, updated {w.updated}, "
               f"unchanged {w.unchanged}; withdrawn {len(result.deleted)}")
    if no_serve:
        return
    for warning in serving_warnings(st.settings, host, workers):
        click.echo(warning, err=True)
    click.echo(f"serving OAI-PMH at http://{host}:{port}/oai  (try ?verb=Identify)", err=True)
    _gunicorn(st, host, port, workers)


def _gunicorn(st: AppState, host: str, port: int, workers: int) -> None:
    from repository.serve import serve as gunicorn_serve

    st.engine.dispose()  # forked workers must open their own connections
    gunicorn_serve(current_app._get_current_object(), host, port, workers)


@main.group("crosswalk", cls=_FileOrCommand)
def crosswalk_group() -> None:
    """Show what a crosswalk does: to one file (FILE), or across the store (check)."""


@crosswalk_group.command("file")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "target", required=True, help="Target metadataPrefix (e.g. oai_dc, mods).")
@click.option("--report", is_flag=True, help="Explain what happened to every element and attribute.")
@click.option("--json", "as_json", is_flag=True, help="Print the output and report as JSON.")
def crosswalk_file(path: Path, target: str, report: bool, as_json: bool) -> None:
    """Crosswalk the record in PATH and print the result."""
    from crosswalks.registry import NoCrosswalkError, UnknownFormatError
    from crosswalks.report import explain
    from metadata.errors import MetadataError
    from metadata.safe_xml import parse_xml
    from repository.ingest.sources import SourceError, read_bounded

    st = state()
    try:
        root = parse_xml(read_bounded(path, st.settings.max_xml_bytes), str(path), st.settings.max_xml_bytes).getroot()
    except (MetadataError, SourceError) as exc:
        raise click.ClickException(str(exc)) from None
    fmt = st.registry.format_for_root(root.tag)
    if fmt is None or root.tag != fmt.root_tag:
        raise click.ClickException(f"{path}: root element {root.tag} is not a single record of a known format")
    for issue in fmt.validate(root):
        click.echo(f"warning: {path}: the source is not valid {fmt.prefix}: {issue}", err=True)
    try:
        result = explain(root, fmt.prefix, target, st.registry)
    except (UnknownFormatError, NoCrosswalkError) as exc:
        raise click.ClickException(f"cannot crosswalk {fmt.prefix} to {target}: {exc}") from None
    if as_json:
        data = result.to_dict()
        if not report:
            data.pop("events")
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(result.output_bytes.decode("utf-8"))
        if report:
            click.echo(result.to_text())
    if not result.valid:
        sys.exit(2)


@crosswalk_group.command("check")
@click.option("--set", "set_spec", help="Only records in this set.")
@click.option("--json", "as_json", is_flag=True)
def crosswalk_check(set_spec: str | None, as_json: bool) -> None:
    """For every source element path: how many records carry it, how many lose it."""
    import time

    from crosswalks.collection_check import CollectionCheck
    from metadata.safe_xml import parse_xml

    st = require_schema()
    check = CollectionCheck(st.registry)
    started = time.perf_counter()
    with st.engine.connect() as conn, tqdm(unit=" records", desc="check", disable=None, file=sys.stderr) as bar:
        for row in queries.iter_live_records(conn, set_spec):
            check.add(row.local_id, parse_xml(row.native_xml, row.local_id).getroot(), row.native_format)
            bar.update(1)
    elapsed = time.perf_counter() - started
    result = check.result()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(result.to_text())
        click.echo(f"checked {result.records} records in {elapsed:.1f} s", err=True)


@main.command()
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
def recrosswalk(dry_run: bool) -> None:
    """Re-render disseminations made by older crosswalk versions."""
    from repository.rederive import rederive

    st = require_schema()
    with tqdm(unit=" records", desc="recrosswalk", disable=None, file=sys.stderr) as bar:
        s = rederive(st.engine, st.registry, st.settings.write_lease_timeout_seconds, dry_run,
                     progress=bar.update)
    verb = "would re-render" if dry_run else "re-rendered"
    click.echo(f"examined {s.examined}; {verb} {s.rerendered}; output changed (datestamp moved) for {s.changed}")


main.add_command(search_group)


main.add_command(token_group)


from repository.commands.csv import import_csv_command  # noqa: E402
main.add_command(import_csv_command)


from repository.commands.harvest import harvest_command  # noqa: E402
main.add_command(harvest_command)


from repository.commands.delete import delete_command  # noqa: E402
main.add_command(delete_command)


def _name_the_demo(st: AppState) -> None:
    """The demo is served under its collection's name and description unless the
    environment names the repository."""
    import os
    from dataclasses import replace

    from repository.demo.load import DEMO_DIR

    about = json.loads((DEMO_DIR / "collection.json").read_text(encoding="utf-8")).get("repository", {})
    settings = replace(st.settings,
                       repository_name=os.environ.get("GRANARY_REPOSITORY_NAME") or about.get("name", "Granary"),
                       repository_description=(os.environ.get("GRANARY_REPOSITORY_DESCRIPTION")
                                               or about.get("description", "")))
    current_app.extensions["granary"] = AppState(settings, st.engine, st.registry)
    if settings.repository_description:
        current_app.config["GRANARY_REPOSITORY_DESCRIPTION"] = settings.repository_description
