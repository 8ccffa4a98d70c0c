"""WSGI entry point for gunicorn and other servers: `gunicorn repository.wsgi:app`."""
from repository.app import create_app

app = create_app()
