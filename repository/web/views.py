"""The human face of the repository: home, browsing, record pages, search, the crosswalk workbench.

Server-rendered (Jinja autoescapes every value), no script at all, and every
page carries a Content-Security-Policy that forbids inline script, so a
metadata value can never become markup or code.
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for
from lxml import etree
from markupsafe import Markup, escape

from metadata.errors import MetadataError
from repository.oai.dates import datestamp
from repository.oai.identifiers import oai_identifier
from repository.search.query import COUNT_CAP, MAX_PAGE, PAGE_SIZE, RANK_POOL, SearchQuery, search
from repository.store import queries as store_queries
from repository.web import queries
from repository.web.jsonld import json_ld, script_json
from repository.web.record_view import RecordView, record_view
from repository.web.workbench import MAX_INPUT_BYTES, run_workbench

blueprint = Blueprint("web", __name__)

BROWSE_PAGE = 25
LATEST = 8
DEFAULT_DESCRIPTION = ("A metadata repository of MODS and Dublin Core records, open to people on these pages "
                       "and to harvesters over OAI-PMH 2.0.")
_CURSOR = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_YEAR = re.compile(r"^-?\d{1,4}$")


@blueprint.record_once
def _configure(setup_state) -> None:
    config = setup_state.app.config
    config.setdefault("GRANARY_OAI_STYLESHEET",
                      os.environ.get("GRANARY_OAI_STYLESHEET", "on").lower() not in ("off", "0", "false", "no"))
    config.setdefault("GRANARY_REPOSITORY_DESCRIPTION",
                      setup_state.app.extensions["granary"].settings.repository_description or DEFAULT_DESCRIPTION)
    config.setdefault("GRANARY_WEB_COUNT_TTL", float(os.environ.get("GRANARY_WEB_COUNT_TTL", "60")))
    config.setdefault("GRANARY_SEARCH_RANK_POOL", max(COUNT_CAP, int(os.environ.get("GRANARY_SEARCH_RANK_POOL",
                                                                                     RANK_POOL))))
    setup_state.app.extensions["granary_web_cache"] = {}
    setup_state.app.jinja_env.filters["highlight"] = highlight


def _state():
    return current_app.extensions["granary"]


def _oai_base() -> str:
    return _state().settings.base_url or url_for("oai.endpoint", _external=True)


def highlight(value: str, terms: list[str]) -> Markup:
    """`value` escaped, with the search terms (whole-word prefixes) wrapped in <mark>."""
    words = [re.escape(t.rstrip("*")) for t in terms if t.rstrip("*")]
    if not words or not value:
        return escape(value)
    pattern = re.compile(r"\b(" + "|".join(words) + r")", re.IGNORECASE | re.UNICODE)
    out, last = [], 0
    for m in pattern.finditer(value):
        out.append(escape(value[last:m.start()]))
        out.append(Markup("<mark>") + escape(m.group(0)) + Markup("</mark>"))
        last = m.end()
    out.append(escape(value[last:]))
    return Markup("").join(out)


def _page(template: str, status: int = 200, **ctx) -> Response:
    st = _state()
    ctx.setdefault("repository_name", st.settings.repository_name)
    return Response(render_template(template, **ctx), status=status, content_type="text/html; charset=utf-8")


def error_page(status: int, title: str, message: str) -> Response:
    return _page("error.html", status, title=title, message=message)


def _view(xml: bytes | None) -> RecordView:
    if xml is None:
        return RecordView()
    try:
        return record_view(xml)
    except MetadataError:
        return RecordView()


def _listing(rows) -> list[dict]:
    out = []
    for r in rows:
        v = _view(r.mods)
        out.append({"local_id": r.local_id, "title": v.title or r.local_id, "date": v.date,
                    "type": v.type_label, "deleted": r.deleted, "datestamp": datestamp(r.stamp),
                    "abstract": v.description})
    return out


def _set_tree(rows, per_set: dict[str, int]) -> list[dict]:
    """Sets as nested nodes: a child's spec extends its parent's with ':'."""
    nodes = {r.spec: {"spec": r.spec, "name": r.name, "description": r.description,
                      "count": per_set.get(r.spec, 0), "children": []} for r in rows}
    roots = []
    for spec, node in nodes.items():
        parent = spec.rsplit(":", 1)[0] if ":" in spec else None
        (nodes[parent]["children"] if parent in nodes else roots).append(node)
    return roots


def _counts() -> dict:
    st = _state()
    return queries.counts(st.engine, current_app.extensions["granary_web_cache"],
                          current_app.config["GRANARY_WEB_COUNT_TTL"])


@blueprint.route("/")
def home() -> Response:
    st = _state()
    with st.engine.connect() as conn:
        latest = _listing(queries.latest_changes(conn, LATEST))
        set_rows = queries.all_sets(conn)
    counts = _counts()
    formats = sorted(st.registry.formats.values(), key=lambda f: f.prefix)
    return _page("home.html", description=current_app.config["GRANARY_REPOSITORY_DESCRIPTION"],
                 counts=counts, latest=latest, formats=formats, base_url=_oai_base(),
                 top_sets=[n for n in _set_tree(set_rows, counts["per_set"])],
                 admin_email=st.settings.admin_email)


@blueprint.route("/sets")
def set_list() -> Response:
    st = _state()
    with st.engine.connect() as conn:
        rows = queries.all_sets(conn)
    counts = _counts()
    return _page("sets.html", tree=_set_tree(rows, counts["per_set"]), counts=counts)


def _cursor() -> tuple[int, int] | None | Response:
    raw = request.args.get("before")
    if raw is None:
        return None
    m = _CURSOR.match(raw)
    if not m:
        return error_page(400, "Bad page link", "The page link is not valid. Start again from the first page.")
    return int(m.group(1)), int(m.group(2))


def _browse(set_row) -> Response:
    st = _state()
    before = _cursor()
    if isinstance(before, Response):
        return before
    spec = set_row.spec if set_row is not None else None
    with st.engine.connect() as conn:
        rows = queries.browse_page(conn, spec, before, BROWSE_PAGE + 1)
        children = []
        if set_row is not None:
            all_rows = queries.all_sets(conn)
            children = [r for r in all_rows if r.spec.startswith(spec + ":") and ":" not in r.spec[len(spec) + 1:]]
    more = len(rows) > BROWSE_PAGE
    rows = rows[:BROWSE_PAGE]
    next_cursor = f"{rows[-1].stamp}-{rows[-1].id}" if more and rows else None
    counts = _counts()
    parents = []
    if spec:
        parts = spec.split(":")
        with st.engine.connect() as conn:
            names = queries.set_names(conn, [":".join(parts[:i]) for i in range(1, len(parts))])
        parents = [(":".join(parts[:i]), names.get(":".join(parts[:i]), ":".join(parts[:i])))
                   for i in range(1, len(parts))]
    return _page("browse.html", set=set_row, parents=parents, children=children, items=_listing(rows),
                 next_cursor=next_cursor, first_page=before is None, counts=counts,
                 total=counts["per_set"].get(spec, 0) if spec else counts["records"])


@blueprint.route("/sets/<spec>")
def set_page(spec: str) -> Response:
    with _state().engine.connect() as conn:
        row = queries.get_set(conn, spec)
    if row is None:
        return error_page(404, "Set not found", f"There is no set “{spec}” in this repository.")
    return _browse(row)


@blueprint.route("/records")
def all_records() -> Response:
    return _browse(None)


def _record_urls(local_id: str, prefixes: list[str]) -> list[dict]:
    st = _state()
    ident = oai_identifier(st.settings.repository_identifier, local_id)
    base = _oai_base()
    return [{"prefix": p, "title": st.registry.formats[p].title if p in st.registry.formats else p,
             "oai": f"{base}?{urlencode({'verb': 'GetRecord', 'metadataPrefix': p, 'identifier': ident})}",
             "pretty": url_for("web.metadata", prefix=p, local_id=local_id)} for p in prefixes]


@blueprint.route("/records/<path:local_id>")
def record(local_id: str) -> Response:
    st = _state()
    with st.engine.connect() as conn:
        row = store_queries.record_detail(conn, local_id)
        if row is None:
            return error_page(404, "Record not found", f"There is no record “{local_id}” in this repository.")
        ident = oai_identifier(st.settings.repository_identifier, local_id)
        specs = row.set_specs.split() if row.set_specs else []
        names = queries.set_names(conn, specs)
        if row.deleted:
            return _page("tombstone.html", 410, local_id=local_id, identifier=ident,
                         datestamp=datestamp(row.stamp), oai_url=f"{_oai_base()}?" + urlencode(
                             {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": ident}))
        prefixes = queries.prefixes_of(conn, row.id)
        mods = queries.dissemination(conn, row.id, "mods")
    view = _view(mods)
    page_url = url_for("web.record", local_id=local_id, _external=True)
    return _page("record.html", local_id=local_id, identifier=ident, view=view, native_format=row.native_format,
                 datestamp=datestamp(row.stamp), sets=[(s, names.get(s, s)) for s in specs],
                 formats=_record_urls(local_id, prefixes), page_url=page_url,
                 jsonld=script_json(json_ld(view, page_url, ident, st.settings.repository_name)))


@blueprint.route("/metadata/<prefix>/<path:local_id>")
def metadata(prefix: str, local_id: str) -> Response:
    st = _state()
    with st.engine.connect() as conn:
        row = store_queries.record_detail(conn, local_id)
        if row is None:
            return error_page(404, "Record not found", f"There is no record “{local_id}” in this repository.")
        if row.deleted:
            return error_page(410, "Record withdrawn", f"Record “{local_id}” has been withdrawn.")
        xml = queries.dissemination(conn, row.id, prefix)
        prefixes = queries.prefixes_of(conn, row.id)
        mods = queries.dissemination(conn, row.id, "mods")
    if xml is None:
        return error_page(404, "Format not available", f"Record “{local_id}” is not available as {prefix}.")
    pretty = etree.tostring(etree.fromstring(xml, etree.XMLParser(remove_blank_text=True, resolve_entities=False,
                                                                   no_network=True)),
                            pretty_print=True, encoding="unicode")
    return _page("metadata.html", local_id=local_id, prefix=prefix, xml=pretty, title=_view(mods).title or local_id,
                 formats=_record_urls(local_id, prefixes))


def _int_arg(name: str, errors: dict[str, str], label: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not _YEAR.match(raw):
        errors[name] = f"{label} must be a year, such as 1951."
        return None
    return int(raw)


@blueprint.route("/search")
def search_page() -> Response:
    st = _state()
    q = request.args.get("q", "").strip()[:500]
    spec = request.args.get("set", "").strip() or None
    errors: dict[str, str] = {}
    year_from = _int_arg("from", errors, "“From” year")
    year_to = _int_arg("to", errors, "“To” year")
    raw_page = request.args.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() else 0
    if page < 1 or page > MAX_PAGE:
        errors["page"] = (f"Only the first {MAX_PAGE} pages of results are shown; "
                          "narrow the search with a set or a date range.")
        page = 1
    with st.engine.connect() as conn:
        set_rows = queries.all_sets(conn)
        if spec is not None and spec not in {r.spec for r in set_rows}:
            errors["set"] = "There is no such set."
        result = None
        items: list[dict] = []
        if q and not errors:
            result = search(conn, SearchQuery(q, spec, year_from, year_to, page),
                            current_app.config["GRANARY_SEARCH_RANK_POOL"])
            items = _listing(queries.records_by_ids(conn, result.ids))
    status = 400 if errors else 200
    params = {k: v for k, v in (("q", q), ("set", spec or ""), ("from", request.args.get("from", "").strip()),
                                ("to", request.args.get("to", "").strip())) if v}
    pages = 0
    if result is not None:
        pages = min(MAX_PAGE, -(-result.reachable // PAGE_SIZE))

    def page_url(n: int) -> str:
        return url_for("web.search_page", **params, page=n)

    return _page("search.html", status, q=q, spec=spec or "", year_from=request.args.get("from", "").strip(),
                 year_to=request.args.get("to", "").strip(), sets=set_rows, errors=errors, result=result,
                 items=items, page=page, pages=pages, page_url=page_url, page_size=PAGE_SIZE, count_cap=COUNT_CAP,
                 rank_pool=current_app.config["GRANARY_SEARCH_RANK_POOL"])


@blueprint.route("/workbench", methods=["GET", "POST"])
def workbench() -> Response:
    st = _state()
    targets = sorted(st.registry.formats)
    if request.method == "GET":
        return _page("workbench.html", targets=targets, target="oai_dc", source="", outcome=None,
                     max_kb=MAX_INPUT_BYTES // 1024)
    if request.content_length is not None and request.content_length > MAX_INPUT_BYTES + 64 * 1024:
        return _page("workbench.html", 413, targets=targets, target="oai_dc", source="", outcome=None,
                     max_kb=MAX_INPUT_BYTES // 1024,
                     form_error=f"The record is too large: the workbench takes up to {MAX_INPUT_BYTES // 1024} KB.")
    upload = request.files.get("file")
    data = upload.read(MAX_INPUT_BYTES + 1) if upload is not None and upload.filename else b""
    if not data:
        data = request.form.get("source", "").encode("utf-8")
    target = request.form.get("target", "oai_dc")
    source_text = data.decode("utf-8", errors="replace")
    if target not in targets:
        return _page("workbench.html", 400, targets=targets, target="oai_dc", source=source_text, outcome=None,
                     max_kb=MAX_INPUT_BYTES // 1024, form_error="Choose a target format from the list.")
    if not data.strip():
        return _page("workbench.html", 400, targets=targets, target=target, source="", outcome=None,
                     max_kb=MAX_INPUT_BYTES // 1024, form_error="Paste a MODS or Dublin Core record, or choose a file.")
    if len(data) > MAX_INPUT_BYTES:
        return _page("workbench.html", 413, targets=targets, target=target, source="", outcome=None,
                     max_kb=MAX_INPUT_BYTES // 1024,
                     form_error=f"The record is too large: the workbench takes up to {MAX_INPUT_BYTES // 1024} KB.")
    outcome = run_workbench(data, target, st.registry)
    status = 422 if outcome.fatal else 200
    return _page("workbench.html", status, targets=targets, target=target, source=source_text, outcome=outcome,
                 max_kb=MAX_INPUT_BYTES // 1024)
