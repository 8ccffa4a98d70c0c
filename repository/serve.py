"""Run the WSGI app under gunicorn: the production server, and the one the benchmarks measure."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication


class GranaryServer(BaseApplication):
    def __init__(self, app, options: dict) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def serve(app, host: str, port: int, workers: int, threads: int = 1) -> None:
    """Serve `app` with `workers` pre-forked processes (sync workers; threads when asked)."""
    GranaryServer(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "keepalive": 5,
        "timeout": 120,
        "accesslog": "-",
    }).run()
