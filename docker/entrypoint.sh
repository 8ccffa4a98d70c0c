#!/bin/sh
# Start a Granary container: bring the schema up to date, then serve OAI-PMH with gunicorn.
#
# `granary init` is idempotent, so every start may run it: a new image with a new
# migration upgrades the database before any worker serves from it. With arguments,
# the container runs them instead of the server (after init), e.g.
#   docker compose run --rm app granary ingest /data/records --set maps
# GRANARY_HOST/GRANARY_PORT only matter outside a container (tests run this very script);
# in the image the server listens on 0.0.0.0:8000, which HEALTHCHECK and compose expect.
set -eu

granary init

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

# The same settings as `granary serve` (sync workers, timeout, access log, prompt close).
exec gunicorn --config python:repository.gunicorn_conf --workers "${GRANARY_WORKERS:-4}" \
    --bind "${GRANARY_HOST:-0.0.0.0}:${GRANARY_PORT:-8000}" repository.wsgi:app
