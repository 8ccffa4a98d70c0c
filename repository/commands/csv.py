"""`granary import-csv`: load a spreadsheet, one row per record; `--template` writes a blank one."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import ScriptInfo
from tqdm import tqdm

from repository.commands.common import require_schema
from repository.store.errors import StoreError

TEMPLATE_NAME = "granary-template.csv"
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


def _write_template(target: str) -> None:
    from repository.csvimport.read import BOM
    from repository.csvimport.template import template_csv

    text = template_csv()
    if target == "-":
        click.echo(text, nl=False)
        return
    path = Path(target)
    if path.exists():
        raise click.ClickException(f"{path} exists already; name another file (or - for standard output)")
    path.write_bytes(BOM + text.encode("utf-8"))  # the BOM tells Excel the file is UTF-8
    click.echo(f"wrote {path}: a header row of the common columns and one example row (demo record 110365).")
    click.echo("Replace the example with your records, one row per record; save as CSV UTF-8. "
               "Every column is described in docs/csv-import.md.", err=True)


def _app_context() -> None:
    """Enter the app (settings, store) only to import: writing a template needs no configuration."""
    if not current_app:
        ctx = click.get_current_context()
        ctx.with_resource(ctx.ensure_object(ScriptInfo).load_app().app_context())


@click.command("import-csv")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "set_specs", multiple=True, help="Add every record to this set (repeatable).")
@click.option("--dry-run", is_flag=True, help="Validate every row and say what would change; write nothing.")
@click.option("--template", "template", is_flag=False, flag_value=TEMPLATE_NAME, default=None, metavar="[PATH]",
              help=f"Write a ready-to-fill template to PATH (default {TEMPLATE_NAME}; - for standard output) "
                   "instead of importing.")
def import_csv_command(file: Path | None, set_specs: tuple[str, ...], dry_run: bool, template: str | None) -> None:
    """Import a spreadsheet saved as CSV (UTF-8): one row per record, columns named by Dublin Core
    element or MODS path, repeated values separated by |. All rows are written, or none."""
    from repository.csvimport.importer import CsvImportError, import_csv

    if template is not None:
        if file is not None:
            raise click.UsageError("--template writes a template; give no FILE (use --template PATH)")
        _write_template(template)
        return
    if file is None:
        raise click.UsageError("give the CSV FILE to import, or --template to write a template")
    _app_context()
    st = require_schema()
    with tqdm(unit=" rows", desc="check rows", disable=None, file=sys.stderr) as rows, \
            tqdm(unit=" records", desc="write", disable=None, file=sys.stderr, delay=0.5) as written:
        try:
            report = import_csv(file, st.settings, st.engine, st.registry, frozenset(set_specs), dry_run,
                                progress=rows.update, write_progress=written.update)
        except CsvImportError as exc:
            rows.close()
            written.close()
            for problem in exc.report.problems:
                click.echo(f"error: {problem}", err=True)
            r = exc.report
            if r.rejected:
                click.echo(f"rejected: {r.rejected} of {r.rows} row(s) invalid; nothing was written "
                           "(the store is unchanged)", err=True)
            else:
                click.echo("rejected: the file cannot be imported; nothing was written (the store is unchanged)",
                           err=True)
            sys.exit(1)
        except StoreError as exc:
            raise click.ClickException(f"{exc}; nothing was written") from None
    empty = f" ({report.empty_rows} empty row(s) skipped)" if report.empty_rows else ""
    click.echo(f"read {report.rows} row(s) from {file}, {_DELIMITERS[report.delimiter]}-separated{empty}; "
               f"records built as {report.native_format}")
    if dry_run:
        click.echo(f"dry run: would add {report.added}, update {report.updated}, leave {report.unchanged} "
                   "unchanged; nothing was written")
    else:
        click.echo(f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, rejected 0")
