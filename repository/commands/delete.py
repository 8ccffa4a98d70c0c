"""`granary delete`: withdraw records, one or a list of thousands, in one transaction."""
from __future__ import annotations

from typing import IO

import click
from flask.cli import with_appcontext

from repository.commands.common import require_schema, store_call
from repository.oai.identifiers import local_id_of
from repository.store import writes
from repository.store.errors import RecordsNotFound

SHOWN_UNKNOWN = 20


def identifiers(arguments: tuple[str, ...], listing: IO[str] | None, repository_id: str) -> dict[str, str]:
    """Local identifiers to withdraw, each with where it was given ("argument 2", "ids.txt line 7"),
    in the order given, each once. An `oai:` identifier of this repository is taken as its local
    part. In a file, blank lines and lines starting with # are skipped."""
    out: dict[str, str] = {}

    def add(identifier: str, origin: str) -> None:
        out.setdefault(local_id_of(repository_id, identifier) or identifier, origin)

    for n, identifier in enumerate(arguments, 1):
        add(identifier, f"argument {n}")
    if listing is not None:
        name = "standard input" if listing.name == "<stdin>" else listing.name
        n = 0
        try:
            for n, line in enumerate(listing, 1):
                line = line.strip()
                if line and not line.startswith("#"):
                    add(line, f"{name} line {n}")
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"{name} line {n + 1}: not UTF-8 text ({exc.reason})") from None
    return out


@click.command("delete")
@with_appcontext
@click.argument("identifier", nargs=-1)
@click.option("--from", "listing", type=click.File("r", encoding="utf-8"),
              help="A file of identifiers, one a line ('-' reads standard input); blank lines and # comments "
                   "are skipped.")
def delete_command(identifier: tuple[str, ...], listing: IO[str] | None) -> None:
    """Withdraw records (local or oai: identifiers); they stay as deleted tombstones for harvesters.

    All of them are withdrawn in one transaction: if any identifier is unknown, every unknown
    one is listed with where it was given, and nothing is withdrawn."""
    st = require_schema()
    wanted = identifiers(identifier, listing, st.settings.repository_identifier)
    if not wanted:
        raise click.UsageError("give at least one identifier, or --from FILE")

    def withdraw() -> writes.Withdrawal:
        try:
            return writes.delete_records(st.engine, st.settings.write_lease_timeout_seconds, wanted)
        except RecordsNotFound as exc:  # each unknown one with where it was given
            lines = [f"{wanted[i]}: no record with local identifier {i!r}" for i in exc.local_ids[:SHOWN_UNKNOWN]]
            if len(exc.local_ids) > SHOWN_UNKNOWN:
                lines.append(f"... and {len(exc.local_ids) - SHOWN_UNKNOWN} more unknown identifiers")
            raise click.ClickException("\n".join([*lines, "nothing was withdrawn"])) from None

    done = store_call(withdraw)
    if len(wanted) == 1:
        local = next(iter(wanted))
        click.echo(f"deleted {local}" if done.withdrawn else f"{local} was already deleted")
    else:
        click.echo(f"deleted {len(done.withdrawn)}; already deleted {len(done.already_deleted)}")
