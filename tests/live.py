"""Serve a WSGI app for real on a free loopback port, for tests that need HTTP."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def serving(app, timeout_s: float = 10) -> Iterator[str]:
    """Yield the server's root URL (http://127.0.0.1:PORT); stop it afterwards."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=timeout_s)
