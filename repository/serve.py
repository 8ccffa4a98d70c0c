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


def serve(app, host: str, port: int, workers: int) -> None:
    """Serve `app` with `workers` pre-forked sync workers. Threaded workers with keep-alive
    answered 32 GetRecord clients faster on average but with a longer tail (a kept-alive
    client can hold its worker's attention), so the tail that harvesters see stays short."""
    GranaryServer(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 120,
        "accesslog": "-",
    }).run()
