"""What every subcommand needs: the app's state, a current schema, clean store errors."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click
from flask import current_app
from sqlalchemy.exc import OperationalError, ProgrammingError

from repository.app import AppState
from repository.db.migrate import is_current
from repository.store.errors import StoreError

T = TypeVar("T")


def state() -> AppState:
    return current_app.extensions["granary"]


def require_schema(app_state: AppState | None = None) -> AppState:
    """The app state, once the database is known to be initialised and current."""
    app_state = app_state or state()
    try:
        current = is_current(app_state.engine)
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(f"cannot open the database: {exc.orig}") from None
    if not current:
        raise click.ClickException("the database is not initialised or is out of date: run `granary init`")
    return app_state


def store_call(fn: Callable[..., T], *args, **kwargs) -> T:
    """Call a store write; a refused write becomes a one-line error, not a traceback."""
    try:
        return fn(*args, **kwargs)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
