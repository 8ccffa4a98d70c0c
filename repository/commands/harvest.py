"""`granary harvest BASE_URL`: import records from another OAI-PMH 2.0 repository."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from repository.commands.common import require_schema
from repository.harvest.client import Client, HarvestError
from repository.harvest.run import (
    HarvestOptions,
    HarvestRefused,
    HarvestReport,
    harvest,
)
from repository.store.errors import StoreError


def _summary(r: HarvestReport) -> str:
    would = "would be " if r.dry_run else ""
    parts = [f"pages {r.pages}", f"records received {r.received}", f"{would}added {r.added}",
             f"{would}updated {r.updated}", f"unchanged {r.unchanged}", f"{would}deleted {r.deleted}",
             f"skipped invalid {len({(p.record, p.source) for p in r.skipped})}"]
    if r.deletions_passed_over:
        parts.append(f"deletions passed over {r.deletions_passed_over} (not held here, or already deleted)")
    return "; ".join(parts)


@click.command("harvest")
@click.argument("base_url")
@click.option("--prefix", type=click.Choice(["oai_dc", "mods"]), default="oai_dc", show_default=True,
              help="The metadataPrefix to harvest.")
@click.option("--set", "set_spec", help="Harvest only this set of the remote repository.")
@click.option("--from", "from_", metavar="DATE",
              help="Only records changed since DATE (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ). "
                   "Default: since the last completed harvest of this source.")
@click.option("--into-set", help="Put every harvested record into this set of ours (it must exist).")
@click.option("--dry-run", is_flag=True, help="Fetch and validate everything; write nothing.")
@click.option("--skip-invalid", is_flag=True,
              help="Skip and report invalid records instead of refusing their page.")
@click.option("--max-pages", type=click.IntRange(1), help="Stop after this many pages; the next run resumes.")
@click.option("--restart", is_flag=True, help="Forget an interrupted harvest's resumption token; start the list again.")
@click.option("--timeout", type=click.FloatRange(1), default=60, show_default=True, help="Seconds per request.")
@click.option("--retries", type=click.IntRange(0, 20), default=5, show_default=True,
              help="Retries of a request on 503, 5xx and network errors, with exponential backoff.")
@with_appcontext
def harvest_command(base_url: str, prefix: str, set_spec: str | None, from_: str | None, into_set: str | None,
                    dry_run: bool, skip_invalid: bool, max_pages: int | None, restart: bool, timeout: float,
                    retries: int) -> None:
    """Import records from the OAI-PMH 2.0 repository at BASE_URL.

    Follows resumption tokens; resumable after an interruption (run it again);
    incremental on later runs. Deleted records upstream become tombstones here;
    harvested records carry an OAI provenance <about> container.
    """
    st = require_schema()
    options = HarvestOptions(base_url.strip(), prefix, set_spec, from_, into_set, dry_run, skip_invalid,
                             max_pages, restart)

    def note(message: str) -> None:
        tqdm.write(f"note: {message}", file=sys.stderr)

    client = Client(options.base_url, timeout=timeout, attempts=retries + 1, max_bytes=st.settings.max_xml_bytes,
                    on_retry=lambda why, wait: note(f"{why}; retrying in {wait:.0f} s"))
    with tqdm(unit=" records", desc="harvest", disable=None, file=sys.stderr) as bar:
        def on_page(page, report: HarvestReport) -> None:
            if page.complete_list_size and bar.total is None:
                bar.total = page.complete_list_size
            bar.update(len(page.records))
            bar.set_postfix(pages=report.pages, refresh=False)

        try:
            report = harvest(options, st.settings, st.engine, st.registry, client, on_page, note)
        except HarvestRefused as exc:
            bar.close()
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo(f"refused page {exc.report.pages}: nothing of it was written and the harvest state is "
                       "unchanged; fix the source (or use --skip-invalid) and run again to resume there", err=True)
            click.echo(f"before that: {_summary(exc.report)}", err=True)
            sys.exit(1)
        except (HarvestError, StoreError) as exc:
            bar.close()
            raise click.ClickException(f"{exc} (pages already written are kept; run again to resume)") from None
    for problem in report.skipped:
        click.echo(f"skipped: {problem}", err=True)
    if report.from_:
        click.echo(f"changes since {report.from_}" + (" (resumed)" if report.resumed else ""))
    status = "complete" if report.complete else "stopped early; run again to resume"
    if dry_run:
        status += "; dry run: nothing was written"
    click.echo(f"{_summary(report)}; {status}")
