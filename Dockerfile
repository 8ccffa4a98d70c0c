# Granary: an OAI-PMH 2.0 data provider, served by gunicorn.
#   docker compose up        (see docker-compose.yml: PostgreSQL plus this image)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only what the package needs, so edits to tests or docs do not rebuild the install layer.
COPY pyproject.toml README.md* ./
COPY metadata ./metadata
COPY crosswalks ./crosswalks
COPY repository ./repository
RUN pip install ".[postgres]" && rm -rf /src

COPY docker/entrypoint.sh /usr/local/bin/granary-entrypoint
RUN chmod 0755 /usr/local/bin/granary-entrypoint \
    && useradd --create-home --home-dir /home/granary --uid 10001 --user-group granary

# Unprivileged: the server needs no root, and files it writes (a generated key,
# a SQLite store if no database URL is given) belong to this user's home.
USER granary
WORKDIR /home/granary

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/oai?verb=Identify' % os.environ.get('GRANARY_PORT', '8000'), timeout=4); sys.exit(0 if r.status == 200 and b'<Identify>' in r.read() else 1)"]

ENTRYPOINT ["/usr/local/bin/granary-entrypoint"]
