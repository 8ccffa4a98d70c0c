"""The container deployment (Dockerfile, docker/entrypoint.sh, docker-compose.yml), tested
without a Docker engine.

No engine runs here, so the next best thing: read the files a deployment is made
of, and run what they run for real. The entrypoint script itself is started
(`granary init`, then gunicorn on repository.wsgi:app with two workers) against
the PostgreSQL server, with exactly the environment variables the compose file
gives the app, their values adapted to this machine. A harvest then walks
resumption tokens from one worker to the other, and the healthcheck commands of
both files are run against the live server. Should the compose file name a
variable the app does not read, or the entrypoint serve another module, these
tests fail.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
import yaml

from crosswalks.registry import default_registry
from repository.config import Settings
from repository.db.engine import make_engine
from repository.db.migrate import upgrade
from repository.demo.load import DEMO_DIR, load_demo
from repository.oai import tokens
from repository.store import writes
from tests.databases import POSTGRES_URL
from tests.oai import NS, valid_response

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
BIN = Path(sys.executable).parent  # where this venv installed `granary` and `gunicorn`
TIMEOUT_S = 30
WORKERS = 2
PAGE = 10
APP_ENV_NAMES = {"GRANARY_DATABASE_URL", "GRANARY_SECRET_KEY", "GRANARY_WORKERS", "GRANARY_BASE_URL",
                 "GRANARY_REPOSITORY_IDENTIFIER", "GRANARY_ADMIN_EMAIL", "GRANARY_PAGE_SIZE"}


# --- reading the files --------------------------------------------------------------------------

def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    """The compose file requires a variable the test did not provide."""


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ${V}, ${V:-default}, ${V-default}, ${V:?error}, $$."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if present:
            return env[name]
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg}")
        return ""

    return _VAR.sub(sub, value)


def app_environment(env: dict[str, str]) -> dict[str, str]:
    raw = compose()["services"]["app"]["environment"]
    assert isinstance(raw, dict), "write the app's environment as a mapping"
    return {k: interpolate(str(v), env) for k, v in raw.items()}


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments dropped (Dockerfile and sh alike)."""
    joined = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def dockerfile() -> list[tuple[str, str]]:
    out = []
    for line in _logical_lines(DOCKERFILE.read_text(encoding="utf-8")):
        instruction, _, rest = line.partition(" ")
        out.append((instruction.upper(), rest.strip()))
    return out


def healthcheck_from_dockerfile() -> list[str]:
    [rest] = [rest for ins, rest in dockerfile() if ins == "HEALTHCHECK"]
    cmd = rest[rest.index("CMD ") + 4:].strip()
    return json.loads(cmd)  # exec form: no shell needed in the image


# --- the static checks --------------------------------------------------------------------------

def test_dockerfile_builds_a_non_root_image_that_runs_the_entrypoint():
    """The image is the slim Python the project supports, installs the package with its
    PostgreSQL driver, serves as an unprivileged user, and starts through the entrypoint
    script whose behaviour test_entrypoint_serves_... exercises."""
    instructions = dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [rest for ins, rest in instructions if ins == "RUN"]
    assert any(re.search(r"pip install [\"']?\.\[postgres\][\"']?", r) for r in runs)
    users = [rest for ins, rest in instructions if ins == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(users[-1] in r and "useradd" in r for r in runs), "the USER must be created in the image"
    copied = [rest.split() for ins, rest in instructions if ins == "COPY" and "docker/entrypoint.sh" in rest]
    assert len(copied) == 1
    [entry] = [json.loads(rest) for ins, rest in instructions if ins == "ENTRYPOINT"]
    assert entry == [copied[0][-1]]
    assert ("EXPOSE", "8000") in instructions
    health = healthcheck_from_dockerfile()
    assert health[:2] == ["python", "-c"] and "urllib" in health[2] and "/oai?verb=Identify" in health[2]


def test_entrypoint_runs_init_then_gunicorn_on_the_wsgi_module():
    """Every container start upgrades the schema before any worker serves, and a failed
    upgrade stops the start (set -e) instead of serving a stale schema."""
    lines = _logical_lines(ENTRYPOINT.read_text(encoding="utf-8"))
    assert ENTRYPOINT.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    assert any(re.fullmatch(r"set -\w*e\w*", line) for line in lines)
    init = lines.index("granary init")
    [gunicorn] = [i for i, line in enumerate(lines) if line.startswith("exec gunicorn ")]
    assert init < gunicorn
    argv = shlex.split(lines[gunicorn])
    assert argv[-1] == "repository.wsgi:app"
    assert argv[argv.index("--workers") + 1] == "${GRANARY_WORKERS:-4}"
    assert argv[argv.index("--bind") + 1] == "${GRANARY_HOST:-0.0.0.0}:${GRANARY_PORT:-8000}"


def test_compose_wires_the_app_to_a_healthy_postgres():
    """The app waits for a healthy database, reaches it by service name with the credentials
    the database service was created with, keeps the data in a named volume, and refuses to
    start without a secret key (a generated one would differ per container)."""
    doc = compose()
    db, app = doc["services"]["db"], doc["services"]["app"]
    assert db["image"] == "postgres:15"
    assert {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(db["environment"])
    [volume] = [v for v in db["volumes"] if v.endswith(":/var/lib/postgresql/data")]
    assert volume.split(":")[0] in doc["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])

    assert app["build"] == "."
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "8000:8000" in [str(p) for p in app["ports"]]
    assert set(app["environment"]) == APP_ENV_NAMES

    env = {"GRANARY_SECRET_KEY": "s3cret", "POSTGRES_PASSWORD": "pw"}
    values = app_environment(env)
    assert values["GRANARY_SECRET_KEY"] == "s3cret"
    for required in ("GRANARY_SECRET_KEY", "POSTGRES_PASSWORD"):
        with pytest.raises(MissingVariable):
            app_environment({k: v for k, v in env.items() if k != required})
    db_env = {k: interpolate(str(v), env) for k, v in db["environment"].items()}
    url = urlsplit(values["GRANARY_DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg"
    assert (url.hostname, url.port) == ("db", 5432)
    assert (url.username, url.password, url.path) == (db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"],
                                                      "/" + db_env["POSTGRES_DB"])
    # Its defaults are settings the app accepts.
    Settings.from_env(values, Path("/nonexistent"))

    test = app["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:] == healthcheck_from_dockerfile()


def test_compose_gives_postgres_settings_that_postgres_accepts():
    """The database's `-c name=value` settings name real parameters, and their default values
    are accepted in their unit (asked of the PostgreSQL server CI runs)."""
    command = compose()["services"]["db"]["command"]
    assert command[0] == "postgres" and command[1::2] == ["-c"] * (len(command) // 2)
    settings = dict(interpolate(arg, {}).split("=", 1) for arg in command[2::2])
    assert "shared_buffers" in settings
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            for name, value in settings.items():
                unit = conn.execute(sa.text("SELECT unit FROM pg_settings WHERE name = :n"), {"n": name}).first()
                assert unit is not None, f"{name} is not a PostgreSQL setting"
                # pg_size_bytes parses memory sizes as the configuration file does
                if unit[0] in ("8kB", "kB", "MB"):
                    assert conn.execute(sa.text("SELECT pg_size_bytes(:v)"), {"v": value}).scalar() > 0
    finally:
        engine.dispose()


# --- the entrypoint, for real -----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, what: str, proc: subprocess.Popen, logs: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"{what} (exit code {proc.poll()}):\n{logs.read_text(errors='replace')[-4000:]}")


class HeldRequest:
    """An HTTP request whose first bytes are sent at once and the rest later.

    A gunicorn sync worker that accepts it is busy until the rest arrives; so while one
    is held, the next connection must go to the other worker. Holding the next request
    before finishing the current one makes the pages of a harvest alternate workers.
    """

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.sock.sendall(b"GET ")

    def finish(self, query: str) -> bytes:
        self.sock.sendall(f"/oai?{query} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while chunk := self.sock.recv(1 << 16):
            data += chunk
        self.sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0].split()[1] == b"200", head
        return body


def _until_both_workers_serve(port: int) -> None:
    """Return once two workers have loaded the app and accept connections.

    "Booting worker" is logged before a worker imports the app; a worker still
    importing accepts nothing. With one worker pinned by a held request, a plain
    request can only be answered by the other, once it is ready (bounded by the timeout).
    """
    pinned = HeldRequest(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/oai?verb=Identify", timeout=TIMEOUT_S) as resp:
        valid_response(resp.read())
    valid_response(pinned.finish("verb=Identify"))


@pytest.fixture
def deployment(request, db_url, tmp_path):
    """The entrypoint script running gunicorn with the compose file's app environment."""
    port = _free_port()
    values = {"GRANARY_SECRET_KEY": "deployment-test-secret", "POSTGRES_PASSWORD": "unused",
              "GRANARY_WORKERS": str(WORKERS), "GRANARY_BASE_URL": f"http://127.0.0.1:{port}/oai",
              "GRANARY_PAGE_SIZE": str(PAGE)}
    app_env = app_environment(values)
    # The one value that must differ: the database is this machine's, not the `db` service.
    app_env["GRANARY_DATABASE_URL"] = db_url

    # The store an operator would have after `granary init` and loading records.
    settings = Settings.from_env(app_env, tmp_path)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    writes.record_creation_time(engine)
    load_demo(settings, engine, default_registry())
    engine.dispose()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANARY_", "GUNICORN_"))}
    env.update(app_env)
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "GRANARY_HOST": "127.0.0.1",
                "HOME": str(tmp_path),  # gunicorn's control socket goes under $HOME/.gunicorn
                "GRANARY_PORT": str(port),
                # Logging only: name the worker process that served each request.
                "GUNICORN_CMD_ARGS": "--access-logformat '%(p)s \"%(r)s\" %(s)s'"})
    logs = tmp_path / "entrypoint.log"
    with open(logs, "wb") as out:
        proc = subprocess.Popen(["sh", str(ENTRYPOINT)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        booted = lambda: re.findall(r"Booting worker with pid: (\d+)", logs.read_text(errors="replace"))  # noqa: E731
        _wait_for(lambda: len(booted()) >= WORKERS, f"{WORKERS} gunicorn workers did not boot", proc, logs)
        _until_both_workers_serve(port)
        yield {"port": port, "env": app_env, "proc": proc, "logs": logs, "workers": set(booted()), "health_env": env}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=TIMEOUT_S)


def _healthchecks() -> dict[str, list[str]]:
    """Both healthcheck commands, run with this interpreter as the image's `python`."""
    checks = {"Dockerfile": healthcheck_from_dockerfile(), "compose": compose()["services"]["app"]["healthcheck"]["test"][1:]}
    for argv in checks.values():
        assert argv[0] == "python"
        argv[0] = sys.executable
    return checks


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_entrypoint_serves_the_compose_environment_across_workers(deployment):
    """The entrypoint upgrades (here: finds up to date) and serves; Identify shows the
    compose file's settings; a ListRecords harvest hands each resumption token from one
    worker to the other and still gets every record once; both healthchecks pass on the
    live server and fail once it is gone."""
    port, env, logs = deployment["port"], deployment["env"], deployment["logs"]
    assert re.search(r"^database is up to date \(revision \S+\)$", logs.read_text(), re.M)

    url = f"http://127.0.0.1:{port}/oai?verb=Identify"
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
        identify = valid_response(resp.read()).find("oai:Identify", NS)
    assert identify.findtext("oai:baseURL", namespaces=NS) == env["GRANARY_BASE_URL"]
    assert [e.text for e in identify.iterfind("oai:adminEmail", NS)] == env["GRANARY_ADMIN_EMAIL"].split(",")
    assert identify.findtext(".//oaiid:repositoryIdentifier", namespaces=NS) == env["GRANARY_REPOSITORY_IDENTIFIER"]

    collection = json.loads((DEMO_DIR / "collection.json").read_text(encoding="utf-8"))
    ids: list[str] = []
    held = HeldRequest(port)
    query = "verb=ListRecords&metadataPrefix=oai_dc"
    pages, tokens_seen = 0, []
    while query:
        following = HeldRequest(port)  # pins the other worker while `held` is answered
        root = valid_response(held.finish(query))
        pages += 1
        ids += [h.text for h in root.iterfind("oai:ListRecords/oai:record/oai:header/oai:identifier", NS)]
        token = root.findtext("oai:ListRecords/oai:resumptionToken", namespaces=NS)
        tokens_seen += [token] if token else []
        query = f"verb=ListRecords&resumptionToken={quote(token, safe='')}" if token else None
        held = following
    valid_response(held.finish("verb=Identify"))  # release the last held worker

    repo = env["GRANARY_REPOSITORY_IDENTIFIER"]
    assert sorted(ids) == sorted(f"oai:{repo}:{local}" for local in collection["records"])
    assert pages == -(-len(collection["records"]) // PAGE) and pages >= 3
    # Signed with the compose file's GRANARY_SECRET_KEY, not a key file the workers made up.
    for token in tokens_seen:
        tokens.decode(token, env["GRANARY_SECRET_KEY"].encode(), "ListRecords", int(time.time()))
    served_by = set(re.findall(r"^<(\d+)> \"GET /oai\?verb=ListRecords", logs.read_text(), re.M))
    assert served_by == deployment["workers"], "the token walk should have used both workers"

    checks = _healthchecks()
    for name, argv in checks.items():
        result = subprocess.run(argv, env=deployment["health_env"], capture_output=True, timeout=TIMEOUT_S)
        assert result.returncode == 0, (name, result.stderr)

    os.killpg(deployment["proc"].pid, signal.SIGTERM)
    deployment["proc"].wait(timeout=TIMEOUT_S)
    for name, argv in checks.items():
        result = subprocess.run(argv, env=deployment["health_env"], capture_output=True, timeout=TIMEOUT_S)
        assert result.returncode != 0, name
