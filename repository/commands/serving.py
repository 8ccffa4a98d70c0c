"""What `granary serve` and `granary demo` check before they listen.

The generated secret key is fine on a laptop; on an address other machines can
reach, tokens signed with a key that lives in a file beside the store (and is
lost with a container) are a deployment mistake worth saying out loud. Flask's
debugger runs code typed into a browser, so it never listens beyond loopback.
"""
from __future__ import annotations

import ipaddress

import click

from repository.config import Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_warnings(settings: Settings, host: str, workers: int, debug: bool = False) -> list[str]:
    """Warnings to print before serving; raises click.UsageError for --debug beyond loopback."""
    exposed = not is_loopback(host)
    if debug and exposed:
        raise click.UsageError(
            f"--debug runs Flask's interactive debugger, which executes code sent to it; it only listens on "
            f"a loopback address (127.0.0.1, ::1, localhost), not on {host}. Serve without --debug.")
    if not settings.secret_is_generated:
        return []
    if exposed:
        return [f"warning: serving on {host} with the generated secret key (GRANARY_SECRET_KEY is not set). "
                "Resumption tokens are signed with it: set GRANARY_SECRET_KEY to a long random value, the same "
                "on every node, kept out of images and repositories."]
    if workers > 1:
        return ["note: GRANARY_SECRET_KEY is not set; workers share the generated key file. "
                "Set GRANARY_SECRET_KEY when several machines serve one store."]
    return []
