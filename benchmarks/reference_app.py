"""The reference: the least a Python OAI-PMH server can do, to measure Granary against.

A bare Flask app reading pre-rendered record XML from one SQLite table by keyset
on (datestamp, id), 100 records a page, the token being the last (datestamp, id).
Served by gunicorn with one sync worker:

    REFERENCE_DB=ref.db gunicorn --workers 1 --chdir benchmarks reference_app:app

`build()` fills the table from a Granary store: the oai_dc disseminations
(table `disseminations`, prefix 'oai_dc') with their records' stamps, each
pre-rendered as the whole <record> element Granary sends (same header bytes),
so both servers send the same records. Beyond the issue's (id, datestamp, xml)
the table keeps the pre-rendered <header> (for ListIdentifiers) and the local id
(for GetRecord, in the concurrency benchmark). No validation of arguments, no
watermark, no completeListSize, no signed tokens: it is a ceiling, not a server.
"""
from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

from flask import Flask, Response, request

PAGE = 100
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/'
        'OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"><responseDate>2000-01-01T00:00:00Z'
        '</responseDate><request verb="{verb}">http://127.0.0.1/oai</request><{verb}>').encode()

app = Flask(__name__)
_db: sqlite3.Connection | None = None


def _conn() -> sqlite3.Connection:
    global _db
    if _db is None:
        _db = sqlite3.connect(os.environ["REFERENCE_DB"], check_same_thread=False)
    return _db


@app.get("/oai")
def oai() -> Response:
    args = request.args
    verb = args.get("verb", "")
    if verb == "GetRecord":
        local = args.get("identifier", "").rsplit(":", 1)[-1]
        row = _conn().execute("SELECT xml FROM items WHERE local_id = ?", (local,)).fetchone()
        body = row[0] if row else b'<error code="idDoesNotExist"/>'
        return _response(verb, body)
    if verb not in ("ListRecords", "ListIdentifiers"):
        return _response("Identify", b"<repositoryName>reference</repositoryName>")
    col = "xml" if verb == "ListRecords" else "header"
    token = args.get("resumptionToken")
    if token:
        stamp, rid = (int(x) for x in token.split("."))
        rows = _conn().execute(f"SELECT {col}, datestamp, id FROM items WHERE (datestamp, id) > (?, ?) "
                               "ORDER BY datestamp, id LIMIT ?", (stamp, rid, PAGE + 1)).fetchall()
    else:
        rows = _conn().execute(f"SELECT {col}, datestamp, id FROM items ORDER BY datestamp, id LIMIT ?",
                               (PAGE + 1,)).fetchall()
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    tail = b""
    if more:
        tail = f"<resumptionToken>{rows[-1][1]}.{rows[-1][2]}</resumptionToken>".encode()
    elif token:
        tail = b"<resumptionToken/>"
    return _response(verb, b"".join(r[0] for r in rows) + tail)


def _response(verb: str, body: bytes) -> Response:
    data = HEAD.replace(b"{verb}", verb.encode()) + body + f"</{verb}></OAI-PMH>\n".encode()
    return Response(data, content_type="text/xml; charset=utf-8")


def build(granary_url: str, path: Path, repository_id: str) -> int:
    """Fill the reference table from a Granary store; returns the number of items."""
    sys.path.append(str(Path(__file__).resolve().parents[1]))  # after a snapshot, if one is first
    from sqlalchemy import create_engine, text

    from repository.oai.dates import datestamp
    from repository.oai.envelope import header
    from repository.oai.identifiers import oai_identifier

    if path.exists():
        path.unlink()
    ref = sqlite3.connect(path)
    ref.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, datestamp INTEGER NOT NULL, xml BLOB NOT NULL, "
                "header BLOB NOT NULL, local_id TEXT NOT NULL UNIQUE)")
    eng = create_engine(granary_url)
    n = 0
    try:
        with eng.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=5000).execute(text(
                "SELECT r.id, r.local_id, r.stamp, r.deleted, r.set_specs, d.xml FROM records r "
                "LEFT JOIN disseminations d ON d.record_id = r.id AND d.prefix = 'oai_dc' ORDER BY r.stamp, r.id"))
            batch = []
            for rid, local, stamp, deleted, specs, xml in result:
                head = header(oai_identifier(repository_id, local), datestamp(stamp), specs, bool(deleted)).encode()
                rec = b"<record>" + head + (b"" if deleted or xml is None else b"<metadata>" + bytes(xml) + b"</metadata>") \
                    + b"</record>"
                batch.append((rid, stamp, rec, head, local))
                if len(batch) >= 5000:
                    ref.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", batch)
                    n += len(batch)
                    batch = []
            ref.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", batch)
            n += len(batch)
    finally:
        eng.dispose()
    ref.execute("CREATE INDEX ix_items_datestamp_id ON items (datestamp, id)")
    ref.commit()
    ref.execute("VACUUM")
    ref.close()
    return n
