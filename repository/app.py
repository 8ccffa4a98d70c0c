"""The Flask application factory: one engine, one registry, one settings object per process."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from flask import Flask
from sqlalchemy import Engine

from crosswalks.registry import Registry, default_registry
from repository.api import blueprint as api_blueprint
from repository.config import Settings
from repository.db.engine import make_engine
from repository.errors import register as register_error_answers
from repository.oai.view import blueprint as oai_blueprint
from repository.security_headers import SecurityHeaders
from repository.web import blueprint as web_blueprint
from repository.web.workbench import MAX_INPUT_BYTES as WORKBENCH_MAX_INPUT_BYTES


@dataclass(frozen=True)
class AppState:
    settings: Settings
    engine: Engine
    registry: Registry

    @cached_property
    def reader(self) -> Engine:
        """The engine for read-only requests. On PostgreSQL its connections run in autocommit:
        a harvest page then costs its queries' round trips, not also a BEGIN and a ROLLBACK."""
        if self.engine.dialect.name == "sqlite":
            return self.engine
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               registry: Registry | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    # Werkzeug reads a form whole, and a chunked body has no Content-Length to refuse it by:
    # no body may be larger than a record the API accepts, no form field than the workbench's.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_xml_bytes + 64 * 1024
    app.config["MAX_FORM_MEMORY_SIZE"] = WORKBENCH_MAX_INPUT_BYTES + 64 * 1024
    # No SECRET_KEY for Flask: Granary keeps no cookie sessions, so the key signs
    # resumption tokens only and no request pays for a session serializer.
    app.extensions["granary"] = AppState(settings, engine or make_engine(settings.database_url),
                                         registry or default_registry())
    app.register_blueprint(oai_blueprint)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(web_blueprint)
    register_error_answers(app)
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
    return app
