"""Settings from environment variables, with defaults that work on a laptop.

Every process of a deployment must agree on the secret key (resumption tokens
are signed with it), so when none is configured one is generated once and
persisted next to the SQLite file rather than per process.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ID_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+$")
EMAIL_RE = re.compile(r"^\S+@(\S+\.)+\S+$")  # the adminEmail pattern of OAI-PMH.xsd


class ConfigError(ValueError):
    """A setting has a value Granary cannot run with."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    repository_name: str
    repository_description: str
    base_url: str | None  # None: the URL the request came in on
    admin_email: str
    repository_identifier: str
    secret_key: bytes
    page_size: int = 100
    token_ttl_seconds: int = 7 * 24 * 3600
    max_xml_bytes: int = 50 * 1024 * 1024
    max_csv_bytes: int = 50 * 1024 * 1024  # a sheet is read whole, so it is refused by its size first
    write_lease_timeout_seconds: int = 3600
    secret_is_generated: bool = False
    deletes_in_sets: bool = False  # announce records leaving a set as deletions to its harvesters

    @staticmethod
    def from_env(env: dict[str, str] | None = None, workdir: Path | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        workdir = workdir or Path.cwd()
        repo_id = env.get("GRANARY_REPOSITORY_IDENTIFIER", "granary.localhost")
        if not REPOSITORY_ID_RE.match(repo_id):
            raise ConfigError(
                f"GRANARY_REPOSITORY_IDENTIFIER={repo_id!r} is not a repositoryIdentifier "
                "(a domain name such as archive.example.org)")
        emails = env.get("GRANARY_ADMIN_EMAIL", "admin@granary.localhost")
        bad = [e for e in emails.split(",") if not EMAIL_RE.match(e.strip())]
        if bad:
            raise ConfigError(f"GRANARY_ADMIN_EMAIL: {bad[0].strip()!r} is not an e-mail address "
                              "(OAI-PMH needs user@host.domain; separate several with commas)")
        secret, generated = _secret(env, workdir)
        return Settings(
            database_url=env.get("GRANARY_DATABASE_URL", f"sqlite:///{workdir / 'granary.db'}"),
            repository_name=env.get("GRANARY_REPOSITORY_NAME", "Granary"),
            repository_description=env.get("GRANARY_REPOSITORY_DESCRIPTION", ""),
            base_url=env.get("GRANARY_BASE_URL") or None,
            admin_email=emails,
            repository_identifier=repo_id,
            secret_key=secret,
            page_size=_int(env, "GRANARY_PAGE_SIZE", 100, minimum=1),
            token_ttl_seconds=_int(env, "GRANARY_TOKEN_TTL_SECONDS", 7 * 24 * 3600, minimum=24 * 3600),
            max_xml_bytes=_int(env, "GRANARY_MAX_XML_BYTES", 50 * 1024 * 1024, minimum=1024),
            max_csv_bytes=_int(env, "GRANARY_MAX_CSV_BYTES", 50 * 1024 * 1024, minimum=1024),
            write_lease_timeout_seconds=_int(env, "GRANARY_WRITE_LEASE_TIMEOUT_SECONDS", 3600, minimum=1),
            secret_is_generated=generated,
            deletes_in_sets=_bool(env, "GRANARY_DELETES_IN_SETS", False),
        )


def _int(env: dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={env[name]!r}: use on or off")


def _secret(env: dict[str, str], workdir: Path) -> tuple[bytes, bool]:
    if env.get("GRANARY_SECRET_KEY"):
        return env["GRANARY_SECRET_KEY"].encode(), False
    path = Path(env.get("GRANARY_SECRET_FILE", workdir / "granary-secret.key"))
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes().strip(), True
    key = secrets.token_hex(32).encode()
    # O_EXCL: when several workers start at once, exactly one key wins and all read it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip(), True
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key, True
