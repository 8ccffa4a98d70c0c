"""Run the WSGI app under gunicorn: the production server, and the one the benchmarks measure."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

from repository import gunicorn_conf


class GranaryServer(BaseApplication):
    def __init__(self, app, options: dict) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """The settings of gunicorn_conf (read as gunicorn reads a config module), then `options`."""
        for key, value in [*vars(gunicorn_conf).items(), *self.options.items()]:
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        return self.application


def serve(app, host: str, port: int, workers: int) -> None:
    """Serve `app` with `workers` pre-forked workers, configured by gunicorn_conf."""
    GranaryServer(app, {"bind": f"{host}:{port}", "workers": workers}).run()
