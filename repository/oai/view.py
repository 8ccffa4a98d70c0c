"""The /oai endpoint: GET and POST (application/x-www-form-urlencoded), HTTP 200 for
every protocol error, the response streamed and optionally compressed."""
from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from itertools import chain

from flask import Blueprint, Response, current_app, request

from repository.oai import compression, envelope
from repository.oai.arguments import validate
from repository.oai.errors import Code, OAIError
from repository.oai.dates import now_datestamp
from repository.oai.verbs import HANDLERS, Context, Reply

blueprint = Blueprint("oai", __name__)


def _pairs() -> list[tuple[str, str]] | None:
    """The request's arguments in order, or None for a POST that is not form-encoded."""
    if request.method == "POST":
        if request.mimetype != "application/x-www-form-urlencoded":
            return None
        return list(request.form.items(multi=True))
    return list(request.args.items(multi=True))


def _stylesheet_pi() -> str:
    """An xml-stylesheet processing instruction naming oai.xsl (GRANARY_OAI_STYLESHEET, on by
    default): browsers render the response as a page; XML parsers, harvesters' included, skip it."""
    if not current_app.config.get("GRANARY_OAI_STYLESHEET"):
        return ""
    return _stylesheet_pi_at(request.root_path, current_app.static_url_path)


@lru_cache(maxsize=64)
def _stylesheet_pi_at(root_path: str, static_path: str) -> str:
    # What url_for("static", filename="oai.xsl") gives, without building a URL adapter per request.
    return f'<?xml-stylesheet type="text/xsl" href="{envelope.attr(f"{root_path}{static_path}/oai.xsl")}"?>\n'


def _chunks(reply: Reply, base_url: str, echo: dict[str, str] | None, pi: str = "") -> Iterator[bytes]:
    for piece in chain((envelope.head(reply.response_date, base_url, echo, pi),), reply.body, (envelope.TAIL,)):
        yield piece if isinstance(piece, bytes) else piece.encode("utf-8")


@blueprint.route("/oai", methods=["GET", "POST"])
def endpoint() -> Response:
    state = current_app.extensions["granary"]
    # request.base_url, without its per-request IRI decoding: this route's own path is ASCII.
    base_url = state.settings.base_url or f"{request.scheme}://{request.host}{request.script_root}{request.path}"
    ctx = Context(state.settings, state.reader, state.registry, base_url)
    pairs = _pairs()
    echo: dict[str, str] | None = None
    try:
        if pairs is None:
            raise OAIError(Code.BAD_ARGUMENT, "a POST request must be application/x-www-form-urlencoded")
        verb, args = validate(pairs)
        echo = {"verb": verb, **args}
        reply = HANDLERS[verb](ctx, args)
    except OAIError as exc:
        reply = Reply(exc.response_date or now_datestamp(), [envelope.errors(exc.errors)])
        echo = echo if exc.echo_request else None
    chunks = _chunks(reply, base_url, echo, _stylesheet_pi())
    headers = {"Vary": "Accept-Encoding"}
    encoding = compression.negotiate(request.headers.get("Accept-Encoding", ""))
    if encoding:
        headers["Content-Encoding"] = encoding
        body = compression.compress(chunks, encoding)
    else:
        body = b"".join(chunks)  # one page at most: sent with a Content-Length, in one write
    return Response(body, status=200, content_type="text/xml; charset=utf-8", headers=headers)
