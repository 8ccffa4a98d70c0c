"""/api/records: create, replace, read, list and withdraw records.

PUT is idempotent: the store compares canonical bytes and memberships, so an
identical PUT changes nothing, not even the datestamp, and the ETag (derived
from the stamp) stays the same. If-Match is checked inside the write
transaction (PreparedRecord.if_stamp), so two editors cannot overwrite each
other silently.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from flask import Response, jsonify, request, url_for
from lxml import etree

from metadata.errors import XMLInputError
from metadata.formats import DC_NS, OAI_DC_NS, MetadataFormat
from metadata.safe_xml import parse_xml
from repository.api import blueprint
from repository.api.auth import requires
from repository.api.common import (
    JSON_MAX_BYTES,
    app_state,
    int_param,
    json_object,
    read_body,
)
from repository.api.problems import Problem, issue_dicts
from repository.db.tables import records as records_table
from repository.ingest.extract import local_id_from_record
from repository.ingest.prepare import CrosswalkOutputError, prepare
from repository.oai.dates import datestamp, parse_bound
from repository.oai.errors import OAIError
from repository.oai.identifiers import normalize_local_id, oai_identifier
from repository.store import queries
from repository.store.clock import read_view
from repository.store.errors import ConcurrentCreate, PreconditionFailed, RecordNotFound, SetError
from repository.store.sets import is_valid_spec, split_specs
from repository.store.writes import delete_record, write_records

DC_ELEMENTS = ("title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
               "format", "identifier", "source", "language", "relation", "coverage", "rights")
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_TYPES = ("application/mods+xml", "application/xml", "text/xml")
MAX_LOCAL_ID = records_table.c.local_id.type.length
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
_TAG = re.compile(r"^(\d+)(?:-[A-Za-z0-9_.]+)?$")


@dataclass(frozen=True)
class Body:
    """A record as sent: its format, parsed root, the bytes to keep, and the sets if given."""

    fmt: MetadataFormat
    root: etree._Element
    raw: bytes
    sets: frozenset[str] | None  # None: the request said nothing about memberships
    from_json: bool


# ---------------------------------------------------------------- request bodies

def _sets_from_query(record: str | None) -> frozenset[str] | None:
    if "sets" not in request.args:
        return None
    specs = {s.strip() for v in request.args.getlist("sets") for s in v.split(",") if s.strip()}
    return _checked_specs(specs, record)


def _checked_specs(specs, record: str | None) -> frozenset[str]:
    for spec in sorted(specs):
        if not is_valid_spec(spec):
            raise Problem(422, "invalid-field", f"{spec!r} is not a valid setSpec", field="sets", record=record)
    return frozenset(specs)


def _parse_body(record: str | None) -> Body:
    mimetype = request.mimetype
    if mimetype == "application/json":
        return _json_body(record)
    if mimetype in XML_TYPES:
        return _xml_body(record, mimetype)
    raise Problem(415, "unsupported-media-type",
                  f"Content-Type {mimetype or '(none)'} is not accepted; send application/mods+xml, "
                  "application/xml or text/xml (MODS or oai_dc, told apart by the root element), "
                  "or application/json (Dublin Core fields)", field="Content-Type", record=record)


def _xml_body(record: str | None, mimetype: str) -> Body:
    st = app_state()
    data = read_body(st.settings.max_xml_bytes)
    source = f"record {record!r}" if record else "request body"
    try:
        root = parse_xml(data, source, st.settings.max_xml_bytes).getroot()
    except XMLInputError as exc:
        raise Problem(400, "malformed-body", exc.message, record=record, line=exc.line) from None
    fmt = st.registry.format_for_root(root.tag)
    if fmt is None or root.tag != fmt.root_tag:
        known = ", ".join(f"{{{f.namespace}}}{etree.QName(f.root_tag).localname}"
                          for f in st.registry.formats.values())
        raise Problem(422, "invalid-record", f"the root element {root.tag} is not a single record of a known "
                      f"format ({known}); collections go through `granary ingest`", record=record,
                      line=root.sourceline)
    if mimetype == "application/mods+xml" and fmt.prefix != "mods":
        raise Problem(422, "invalid-record", f"Content-Type is application/mods+xml but the record is {fmt.prefix}",
                      field="Content-Type", record=record, line=root.sourceline)
    return Body(fmt, root, data, _sets_from_query(record), False)


def _json_body(record: str | None) -> Body:
    st = app_state()
    doc = json_object(JSON_MAX_BYTES)
    unknown = sorted(set(doc) - set(DC_ELEMENTS) - {"sets"})
    if unknown:
        raise Problem(422, "invalid-field", f"unknown member {unknown[0]!r}; a JSON record has the 15 Dublin Core "
                      f"elements ({', '.join(DC_ELEMENTS)}) and sets", field=unknown[0], record=record)
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd")
    for name in DC_ELEMENTS:
        for i, value in enumerate(_strings(doc, name, record)):
            try:
                etree.SubElement(root, f"{{{DC_NS}}}{name}").text = value
            except ValueError:
                raise Problem(422, "invalid-field", "the value holds characters XML 1.0 does not allow",
                              field=f"{name}[{i}]", record=record) from None
    if len(root) == 0:
        raise Problem(422, "invalid-field", "a record needs at least one Dublin Core element (title, ...)",
                      record=record)
    sets = None
    if "sets" in doc:
        if not isinstance(doc["sets"], list):
            raise Problem(422, "invalid-field", "sets must be a list of setSpecs", field="sets", record=record)
        sets = _checked_specs(_strings(doc, "sets", record, allow_empty_list=True), record)
        if "sets" in request.args:
            raise Problem(400, "invalid-parameter", "give sets in the JSON body or in the query, not both",
                          field="sets", record=record)
    else:
        sets = _sets_from_query(record)
    raw = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    # Parsed back so that validation errors carry lines and the stored bytes are what was checked.
    return Body(st.registry.format("oai_dc"), parse_xml(raw, "JSON record").getroot(), raw, sets, True)


def _strings(doc: dict, name: str, record: str | None, allow_empty_list: bool = False) -> list[str]:
    value = doc.get(name)
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or (not values and not allow_empty_list):
        raise Problem(422, "invalid-field", f"{name} must be a string or a non-empty list of strings",
                      field=name, record=record)
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v.strip():
            raise Problem(422, "invalid-field", f"{name}[{i}] must be a non-empty string", field=f"{name}[{i}]",
                          record=record)
    return values


def _validate(body: Body, record: str) -> None:
    issues = body.fmt.validate(body.root)
    if not issues:
        return
    first = issues[0]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    field = None
    if body.from_json:  # point at the JSON member rather than a line of XML the client never saw
        name = first.path.rsplit("/", 1)[-1].split("[")[0]
        field = name if name in DC_ELEMENTS else None
    raise Problem(422, "invalid-record", f"not valid {body.fmt.prefix}: {first.path}: {first.message}{more}",
                  record=record, line=None if body.from_json else first.line, field=field,
                  errors=issue_dicts(issues))


def _checked_local_id(raw: str, field: str) -> str:
    local = normalize_local_id(raw)
    if not local:
        raise Problem(422, "invalid-field", "the local identifier is empty", field=field)
    if len(local) > MAX_LOCAL_ID:
        raise Problem(422, "invalid-field", f"the local identifier is longer than {MAX_LOCAL_ID} characters",
                      field=field, record=local[:64] + "...")
    return local


# ---------------------------------------------------------------- ETags and preconditions

def etag_of(stamp: int, prefix: str | None = None) -> str:
    """The ETag value (unquoted): the stamp for the JSON resource, stamp-prefix for XML."""
    return str(stamp) if prefix is None else f"{stamp}-{prefix}"


def _stamp_of(tag: str) -> int | None:
    m = _TAG.match(tag)
    return int(m.group(1)) if m else None


def _stale(local: str, current_stamp: int | None) -> Problem:
    if current_stamp is None:
        return Problem(412, "precondition-failed", f"record {local!r} does not exist", record=local,
                       field="If-Match")
    return Problem(412, "precondition-failed",
                   f"record {local!r} has changed since it was read; its ETag is now \"{current_stamp}\". "
                   "GET it again, reapply your change and send that ETag in If-Match", record=local,
                   field="If-Match", headers={"ETag": f'"{current_stamp}"'})


def _if_match(local: str, current) -> int | None:
    """The stamp the write must still find (from If-Match), or None without the header."""
    if "If-Match" not in request.headers:
        return None
    im = request.if_match
    if current is None:
        raise _stale(local, None)
    if im.star_tag:
        return int(current.stamp)
    # Strong comparison (RFC 9110 13.1.1): weak tags never match.
    if int(current.stamp) not in {_stamp_of(t) for t in im.as_set()}:
        raise _stale(local, int(current.stamp))
    return int(current.stamp)


def _check_if_none_match(local: str, current) -> None:
    """If-None-Match: * makes a PUT create-only; a listed ETag refuses to overwrite that version."""
    if "If-None-Match" not in request.headers or current is None:
        return
    inm = request.if_none_match
    if inm.star_tag or int(current.stamp) in {_stamp_of(t) for t in inm.as_set(include_weak=True)}:
        raise Problem(412, "precondition-failed", f"record {local!r} already exists (If-None-Match)",
                      record=local, field="If-None-Match", headers={"ETag": f'"{current.stamp}"'})


# ---------------------------------------------------------------- representations

def _oai_base() -> str:
    return app_state().settings.base_url or url_for("oai.endpoint", _external=True)


def record_json(row) -> dict:
    st = app_state()
    identifier = oai_identifier(st.settings.repository_identifier, row.local_id)
    formats = [] if row.deleted else st.registry.reachable(row.native_format)
    base = _oai_base()
    return {
        "local_id": row.local_id,
        "identifier": identifier,
        "datestamp": datestamp(int(row.stamp)),
        "deleted": bool(row.deleted),
        "sets": sorted(split_specs(row.set_specs)),
        "native_format": row.native_format,
        "formats": formats,
        "links": {
            "self": url_for("api.get_record", local_id=row.local_id, _external=True),
            "oai": {p: f"{base}?" + urlencode({"verb": "GetRecord", "identifier": identifier, "metadataPrefix": p})
                    for p in formats},
        },
    }


def _record_response(row, status: int = 200) -> Response:
    resp = jsonify(record_json(row))
    resp.status_code = status
    resp.set_etag(etag_of(int(row.stamp)))
    resp.headers["Vary"] = "Accept"
    if status == 201:
        resp.headers["Location"] = url_for("api.get_record", local_id=row.local_id, _external=True)
    return resp


def _current(local: str):
    with app_state().engine.connect() as conn:
        return queries.record_detail(conn, local)


def _not_found(local: str) -> Problem:
    return Problem(404, "not-found", f"no record with local identifier {local!r}", record=local)


_ACCEPT = ("application/json", "application/xml", "text/xml", "application/mods+xml")


def _wanted_prefix(row) -> str | None:
    """The dissemination asked for (?format= or Accept), or None for the JSON description."""
    st = app_state()
    prefix = request.args.get("format")
    if prefix is None:
        if not request.accept_mimetypes:
            return None
        best = request.accept_mimetypes.best_match(_ACCEPT)
        if best is None:
            raise Problem(406, "not-acceptable", f"this resource is available as {', '.join(_ACCEPT)}",
                          field="Accept", record=row.local_id)
        if best == "application/json":
            return None
        prefix = "mods" if best == "application/mods+xml" else row.native_format
    if prefix not in st.registry.formats:
        raise Problem(400, "invalid-parameter", f"format {prefix!r} is not one of {', '.join(sorted(st.registry.formats))}",
                      field="format", record=row.local_id)
    return prefix


# ---------------------------------------------------------------- views

@blueprint.get("/records/<path:local_id>")
def get_record(local_id: str) -> Response:
    local = normalize_local_id(local_id)
    st = app_state()
    row = _current(local)
    if row is None:
        raise _not_found(local)
    prefix = _wanted_prefix(row)
    if prefix is None:
        return _record_response(row).make_conditional(request)
    if row.deleted:
        raise Problem(410, "gone", f"record {local!r} has been withdrawn; only its tombstone remains",
                      record=local, headers={"ETag": f'"{row.stamp}"'})
    if prefix not in st.registry.reachable(row.native_format):
        raise Problem(404, "not-found", f"record {local!r} cannot be disseminated as {prefix}", record=local,
                      field="format")
    with st.engine.connect() as conn:
        diss = queries.get_record(conn, local, prefix)
    if diss is None or diss.xml is None:  # withdrawn or replaced between the two reads
        raise Problem(409, "conflict", f"record {local!r} changed while it was read; try again", record=local)
    resp = Response(diss.xml, mimetype="application/xml")
    resp.set_etag(etag_of(int(diss.stamp), prefix))
    resp.headers["Vary"] = "Accept"
    return resp.make_conditional(request)


@blueprint.put("/records/<path:local_id>")
@requires("write")
def put_record(local_id: str) -> Response:
    local = _checked_local_id(local_id, "local_id")
    body = _parse_body(local)
    _validate(body, local)
    current = _current(local)
    _check_if_none_match(local, current)
    create_only = "If-None-Match" in request.headers and request.if_none_match.star_tag
    outcome = _store(local, body, _if_match(local, current), create_only)
    return _record_response(_current(local), 201 if outcome == "added" else 200)


@blueprint.post("/records")
@requires("write")
def create_record() -> Response:
    body = _parse_body(None)
    found, _rule = local_id_from_record(body.root, "", "", True)
    if not found:
        raise Problem(422, "invalid-field", "the record names no local identifier (MODS recordInfo/recordIdentifier "
                      "or identifier, or dc:identifier); PUT it to /api/records/<local_id> instead",
                      field="identifier")
    local = _checked_local_id(found, "identifier")
    _validate(body, local)
    try:
        _store(local, body, None, create_only=True)
    except Problem as exc:
        if exc.status != 412:
            raise
        raise Problem(409, "conflict", f"record {local!r} already exists; replace it with PUT (a withdrawn "
                      "record is restored the same way)", record=local,
                      headers={"Location": url_for("api.get_record", local_id=local, _external=True)}) from None
    return _record_response(_current(local), 201)


@blueprint.delete("/records/<path:local_id>")
@requires("write")
def delete_record_view(local_id: str) -> Response:
    local = normalize_local_id(local_id)
    st = app_state()
    current = _current(local)
    if current is None:
        raise _not_found(local)
    try:
        delete_record(st.engine, st.settings.write_lease_timeout_seconds, local, if_stamp=_if_match(local, current))
    except PreconditionFailed as exc:
        raise _stale(local, exc.current_stamp) from None
    except RecordNotFound:
        raise _not_found(local) from None
    resp = Response(status=204)
    resp.set_etag(etag_of(int(_current(local).stamp)))
    return resp


def _store(local: str, body: Body, if_stamp: int | None, create_only: bool = False) -> str:
    """Write one record; 'added', 'updated' or 'unchanged'. Sets given replace the memberships
    exactly; sets not given keep them (an empty addition, decided inside the transaction)."""
    st = app_state()
    prepared = prepare(st.registry, body.fmt, body.root, local, body.raw, body.sets or frozenset(),
                       source=f"record {local!r}")
    prepared = replace(prepared, replace_sets=body.sets is not None, if_stamp=if_stamp, if_absent=create_only)
    try:
        summary = write_records(st.engine, st.settings.write_lease_timeout_seconds, [prepared])
    except PreconditionFailed as exc:
        raise _stale(local, exc.current_stamp) from None
    except SetError as exc:
        raise Problem(422, "unknown-set", f"{exc}", field="sets", record=local) from None
    except CrosswalkOutputError as exc:
        raise Problem(500, "crosswalk-failed", f"{exc.message}; nothing was stored (please report this record)",
                      record=local) from None
    except ConcurrentCreate:
        raise Problem(409, "conflict", f"record {local!r} was created by another request at the same time",
                      record=local) from None
    return "added" if summary.added else "updated" if summary.updated else "unchanged"


# ---------------------------------------------------------------- listing

def encode_cursor(stamp: int, record_id: int) -> str:
    return base64.urlsafe_b64encode(f"{stamp}:{record_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        stamp, record_id = text.split(":")
        return int(stamp), int(record_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Problem(400, "invalid-parameter", "after is not a cursor this API returned", field="after") from None


@blueprint.get("/records")
def list_records() -> Response:
    st = app_state()
    limit = int_param("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    set_spec = request.args.get("set") or None
    since = request.args.get("since")
    from_us = None
    if since is not None:
        try:
            from_us = parse_bound("since", since)[0]
        except OAIError:
            raise Problem(400, "invalid-parameter", f"since={since!r} is not a UTC datetime (YYYY-MM-DD or "
                          "YYYY-MM-DDThh:mm:ssZ)", field="since") from None
    cursor = request.args.get("after")
    after = decode_cursor(cursor) if cursor else None
    # Only stamps below the watermark: a change still being written lands after the cursor.
    with read_view(st.engine, st.settings.write_lease_timeout_seconds) as (conn, upper):
        if set_spec is not None and not queries.set_exists(conn, set_spec):
            raise Problem(404, "unknown-set", f"no set {set_spec!r}", field="set")
        q = queries.ListQuery("", None, set_spec, from_us, None, upper)
        rows = list(queries.list_page(conn, q, after, limit + 1, False))
    more = len(rows) > limit
    rows = rows[:limit]
    items = []
    for r in rows:
        identifier = oai_identifier(st.settings.repository_identifier, r.local_id)
        items.append({"local_id": r.local_id, "identifier": identifier, "datestamp": datestamp(int(r.stamp)),
                      "deleted": bool(r.deleted), "sets": sorted(split_specs(r.set_specs)),
                      "links": {"self": url_for("api.get_record", local_id=r.local_id, _external=True)}})
    next_cursor = encode_cursor(int(rows[-1].stamp), int(rows[-1].id)) if more else None
    nxt = None
    if next_cursor:
        args = {k: v for k, v in (("set", set_spec), ("since", since)) if v is not None}
        nxt = url_for("api.list_records", **args, limit=limit, after=next_cursor, _external=True)
    return jsonify({"items": items, "cursor": next_cursor, "next": nxt,
                    "watermark": datestamp(upper)})
