"""The production server's gunicorn hooks, and that both ways of starting it (`granary serve`,
the container's gunicorn command) load them."""
from __future__ import annotations

import gc
import select
import shlex
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from gunicorn.app.wsgiapp import WSGIApplication

from repository.access_log import AccessLogger
from repository.serve import GranaryServer
from repository.server_hooks import close_promptly, freeze_loaded_objects
from tests.test_deployment import ENTRYPOINT, _logical_lines, interpolate


@dataclass
class Response:
    headers_sent: bool = True


@dataclass
class Request:
    headers: list[tuple[str, str]]


@contextmanager
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A TCP connection on loopback: (client end, server end). The client's receive buffer is
    small and the server's send buffer large, so a response written by the server mostly waits
    in the server's kernel until the client reads it, as it does for a distant client."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 * 1024 * 1024)
    try:
        yield client, server
    finally:
        client.close()
        server.close()


def _closed(sock: socket.socket) -> bool:
    return sock.fileno() == -1


def _wait_readable(sock: socket.socket) -> None:
    assert select.select([sock], [], [], 10)[0], "the client's bytes did not arrive"


def test_a_request_without_a_body_is_closed_once_answered():
    """The server end is shut and closed without waiting for the client's FIN. What the client had
    already sent (a pipelined request) is drained first: closing a socket with unread bytes
    resets the connection, and the kernel would drop the part of the response not yet sent."""
    body = b"x" * 1_000_000
    with connection() as (client, server):
        client.sendall(b"GET /next HTTP/1.1\r\n\r\n")
        server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        _wait_readable(server)
        close_promptly(None, Request([("HOST", "x")]), {"gunicorn.socket": server}, Response())
        assert _closed(server)
        client.settimeout(10)
        received = b""
        while chunk := client.recv(65536):  # ends at the server's FIN; a reset would raise here
            received += chunk
        assert received.endswith(b"\r\n\r\n" + body)


@pytest.mark.parametrize("body_header", [("CONTENT-LENGTH", "12"), ("TRANSFER-ENCODING", "chunked")])
def test_a_request_with_a_body_is_left_to_gunicorns_graceful_close(body_header):
    """Its body may still be arriving: closing now could reset the connection before the client
    reads the response, so gunicorn's own close (which waits for the FIN) is left to do it."""
    with connection() as (_, server):
        close_promptly(None, Request([("HOST", "x"), body_header]), {"gunicorn.socket": server}, Response())
        assert not _closed(server)
        server.sendall(b"still open")


def test_an_unfinished_response_and_a_closed_socket_are_left_alone():
    with connection() as (_, server):
        close_promptly(None, Request([]), {"gunicorn.socket": server}, Response(headers_sent=False))
        assert not _closed(server)  # gunicorn writes its error response on it
        server.close()
        close_promptly(None, Request([]), {"gunicorn.socket": server}, Response())  # no error
    close_promptly(None, Request([]), {}, Response())


def test_freezing_moves_what_a_worker_holds_out_of_the_collectors_reach():
    kept = [object() for _ in range(10)]
    gc.unfreeze()
    try:
        freeze_loaded_objects(None)
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()


def test_granary_serve_and_the_container_load_the_same_settings(monkeypatch):
    """`granary serve` and the container's `gunicorn --config python:repository.gunicorn_conf`
    (its argv as docker/entrypoint.sh gives it, read by gunicorn's own parser) run sync workers
    with both hooks."""
    served = GranaryServer(None, {"bind": "127.0.0.1:0", "workers": 2}).cfg
    [line] = [line for line in _logical_lines(ENTRYPOINT.read_text(encoding="utf-8"))
              if line.startswith("exec gunicorn ")]
    argv = shlex.split(interpolate(line.removeprefix("exec "), {}))  # the defaults, as sh expands them
    monkeypatch.setattr("sys.argv", argv)
    container = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]").cfg
    for cfg in (served, container):
        assert cfg.worker_class_str == "sync"
        assert cfg.post_request is close_promptly
        assert cfg.post_worker_init is freeze_loaded_objects
        assert cfg.accesslog == "-"
        assert cfg.logger_class is AccessLogger
    assert container.workers == 4
