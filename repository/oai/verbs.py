"""The six verbs. Each does all its checks and queries before it returns a body, so an
error can never surface half-way through a response; a list body is one page of
stored record fragments, bounded by GRANARY_PAGE_SIZE."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Engine

from crosswalks.registry import Registry
from metadata.formats import MetadataFormat
from repository.config import Settings
from repository.harvest import provenance
from repository.oai import dates, envelope, tokens
from repository.oai.errors import Code, OAIError
from repository.oai.identifiers import local_id_of, oai_identifier
from repository.store import queries
from repository.store.clock import read_view
from repository.store.sets import is_valid_spec

OAI_ID_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"


@dataclass(frozen=True)
class Context:
    settings: Settings
    engine: Engine
    registry: Registry
    base_url: str


@dataclass(frozen=True)
class Reply:
    response_date: str
    body: Iterable[str | bytes]


def identify(ctx: Context, args: dict[str, str]) -> Reply:
    s = ctx.settings
    with ctx.engine.connect() as conn:
        earliest = queries.earliest_stamp(conn)
        sample = queries.first_local_id(conn)
    earliest_date = dates.datestamp(earliest) if earliest is not None else dates.now_datestamp()
    emails = "".join(f"<adminEmail>{envelope.text(e.strip())}</adminEmail>"
                     for e in s.admin_email.split(",") if e.strip())
    sample_id = oai_identifier(s.repository_identifier, sample or "1")
    body = (
        f"<Identify><repositoryName>{envelope.text(s.repository_name)}</repositoryName>"
        f"<baseURL>{envelope.text(ctx.base_url)}</baseURL><protocolVersion>2.0</protocolVersion>{emails}"
        f"<earliestDatestamp>{earliest_date}</earliestDatestamp><deletedRecord>persistent</deletedRecord>"
        "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
        "<compression>gzip</compression><compression>deflate</compression>"
        f'<description><oai-identifier xmlns="{OAI_ID_NS}" xmlns:xsi="{envelope.XSI_NS}" '
        f'xsi:schemaLocation="{OAI_ID_NS} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd">'
        f"<scheme>oai</scheme><repositoryIdentifier>{s.repository_identifier}</repositoryIdentifier>"
        f"<delimiter>:</delimiter><sampleIdentifier>{envelope.text(sample_id)}</sampleIdentifier>"
        "</oai-identifier></description>" + (_DELETES_IN_SETS if s.deletes_in_sets else "") + "</Identify>"
    )
    return Reply(dates.now_datestamp(), [body])


_DELETES_IN_SETS = (
    f'<description><oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" xmlns:xsi="{envelope.XSI_NS}" '
    f'xsi:schemaLocation="{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">'
    "<dc:description>Deletes in sets: when a record leaves a set, a selective harvest of that set with a from "
    "argument on or before the change lists the record with a deleted header, although the record stays live "
    "in the rest of the repository. Harvesters of a set should treat such a header as 'no longer in this set', "
    "not as a deletion of the record everywhere.</dc:description></oai_dc:dc></description>"
)


def _format_xml(fmt: MetadataFormat) -> str:
    return (f"<metadataFormat><metadataPrefix>{fmt.prefix}</metadataPrefix>"
            f"<schema>{envelope.text(fmt.schema_location)}</schema>"
            f"<metadataNamespace>{envelope.text(fmt.namespace)}</metadataNamespace></metadataFormat>")


def _local_id(ctx: Context, identifier: str) -> str:
    local = local_id_of(ctx.settings.repository_identifier, identifier)
    if local is None:
        raise OAIError(Code.ID_DOES_NOT_EXIST, f"{identifier!r} is not an identifier of this repository")
    return local


def list_metadata_formats(ctx: Context, args: dict[str, str]) -> Reply:
    reg = ctx.registry
    if "identifier" in args:
        with ctx.engine.connect() as conn:
            row = queries.get_record(conn, _local_id(ctx, args["identifier"]), None)
        if row is None:
            raise OAIError(Code.ID_DOES_NOT_EXIST, f"no item has the identifier {args['identifier']!r}")
        prefixes = reg.reachable(row.native_format)
        if not prefixes:
            raise OAIError(Code.NO_METADATA_FORMATS, "no metadata format is available for this item")
    else:
        prefixes = sorted(reg.formats)
    body = "<ListMetadataFormats>" + "".join(_format_xml(reg.format(p)) for p in prefixes) + "</ListMetadataFormats>"
    return Reply(dates.now_datestamp(), [body])


def _check_prefix(ctx: Context, prefix: str) -> None:
    if prefix not in ctx.registry.formats:
        raise OAIError(Code.CANNOT_DISSEMINATE_FORMAT,
                       f"metadataPrefix {prefix!r} is not supported; ListMetadataFormats lists those that are")


def get_record(ctx: Context, args: dict[str, str]) -> Reply:
    local = _local_id(ctx, args["identifier"])
    prefix = args["metadataPrefix"]
    with ctx.engine.connect() as conn:
        row = queries.get_record(conn, local, prefix)
    if row is None:
        raise OAIError(Code.ID_DOES_NOT_EXIST, f"no item has the identifier {args['identifier']!r}")
    _check_prefix(ctx, prefix)
    if prefix not in ctx.registry.reachable(row.native_format):
        raise OAIError(Code.CANNOT_DISSEMINATE_FORMAT, f"this item cannot be disseminated as {prefix!r}")
    return Reply(dates.now_datestamp(), ["<GetRecord>", _record(ctx, row, True), "</GetRecord>"])


def _record(ctx: Context, row, with_metadata: bool, datestamp: Callable[[int], str] = dates.datestamp) -> bytes:
    head = envelope.header(oai_identifier(ctx.settings.repository_identifier, row.local_id),
                           datestamp(row.stamp), row.set_specs, row.deleted).encode()
    if not with_metadata:
        return head
    if row.deleted or row.xml is None:
        return b"<record>" + head + b"</record>"
    if row.about is None:
        return b"".join((b"<record>", head, b"<metadata>", row.xml, b"</metadata></record>"))
    # A harvested record's provenance: stored as received in its native format; any other
    # format is a crosswalk of it, so its outermost originDescription says altered="true".
    about = row.about if row.crosswalk_version == "native" else provenance.as_altered(row.about)
    return b"".join((b"<record>", head, b"<metadata>", row.xml, b"</metadata>", about, b"</record>"))


def _page(ctx: Context, rows: Iterable, with_metadata: bool) -> bytes:
    """A whole page as one chunk: a page is bounded by GRANARY_PAGE_SIZE, and one write
    per page instead of one per record is what keeps harvesting at wire speed."""
    seconds: dict[int, str] = {}  # records written together share their datestamp string

    def datestamp(stamp: int) -> str:
        key = stamp // 1_000_000
        text = seconds.get(key)
        if text is None:
            text = seconds[key] = dates.datestamp(stamp)
        return text

    return b"".join(_record(ctx, row, with_metadata, datestamp) for row in rows)


def _first(rows: Iterable[queries.ListRow], limit: int, seen: list[queries.ListRow]) -> Iterator[queries.ListRow]:
    """The first `limit` of `rows` as they arrive, every row (the one past the page too) kept
    in `seen`: the page is rendered while PostgreSQL is still sending its last records."""
    for row in rows:
        seen.append(row)
        if len(seen) <= limit:
            yield row


def _list(ctx: Context, args: dict[str, str], verb: str, with_metadata: bool) -> Reply:
    s = ctx.settings
    now_s = int(time.time())
    if "resumptionToken" in args:
        st = tokens.decode(args["resumptionToken"], s.secret_key, verb, now_s)
        if st.prefix not in ctx.registry.formats or len(st.after) != 2:
            raise OAIError(Code.BAD_RESUMPTION_TOKEN, "the resumptionToken is no longer valid")
        prefix, set_spec, from_us, until_us = st.prefix, st.set_spec, st.from_us, st.until_us
        after, cursor, size = (int(st.after[0]), int(st.after[1])), st.cursor, st.complete_size
        carried = st.upper_us
    else:
        prefix = args["metadataPrefix"]
        _check_prefix(ctx, prefix)
        from_us, until_us = dates.parse_range(args.get("from"), args.get("until"))
        set_spec = args.get("set")
        after, cursor, size, carried = None, 0, None, None
    natives = tuple(ctx.registry.sources_reaching(prefix))

    def read(bound: int | None) -> tuple[int, list[queries.ListRow], bytes, bool, int]:
        """The page after the cursor, below `bound` or, if None, a watermark read afresh."""
        with read_view(ctx.engine, s.write_lease_timeout_seconds, bound) as (conn, upper):
            if set_spec is not None and after is None:
                if not queries.has_sets(conn):
                    raise OAIError(Code.NO_SET_HIERARCHY, "this repository has no sets")
                if not is_valid_spec(set_spec):
                    raise OAIError(Code.BAD_ARGUMENT, f"set={set_spec!r} is not a valid setSpec")
            q = queries.ListQuery(prefix, None if set(natives) >= set(ctx.registry.formats) else natives,
                                  set_spec, from_us, until_us, upper,
                                  departures=s.deletes_in_sets and from_us is not None)
            rows: list[queries.ListRow] = []
            body = _page(ctx, _first(queries.list_page(conn, q, after, s.page_size + 1, with_metadata),
                                     s.page_size, rows), with_metadata)
            more = len(rows) > s.page_size
            del rows[s.page_size:]
            listed = size
            if listed is None:  # the first page counts the list once
                listed = queries.count_list(conn, q) if more else len(rows)
        return upper, rows, body, more, listed

    upper, rows, body, more, size = read(carried)
    if not rows and carried is not None:
        # Everything after the cursor changed since the list began (a re-ingest, say): it now
        # lies above the carried watermark. List on below a fresh one, read as a first page reads it.
        upper, rows, body, more, size = read(None)
    if not rows:
        raise OAIError(Code.NO_RECORDS_MATCH, "no records match the request" if after is None
                       else "the rest of this list changed since the previous page; harvest again from the start",
                       response_date=dates.datestamp(upper))
    token_xml = ""
    if more:
        last = rows[-1]
        expires = now_s + s.token_ttl_seconds
        token = tokens.encode(tokens.TokenState(verb, prefix, set_spec, from_us, until_us, (last.stamp, last.id),
                                                cursor + len(rows), size, expires, upper), s.secret_key)
        token_xml = envelope.resumption_token(token, cursor, size, dates.datestamp(expires * 1_000_000))
    elif after is not None:
        token_xml = envelope.resumption_token(None, cursor, max(size, cursor + len(rows)), None)

    page = b"".join((f"<{verb}>".encode(), body, token_xml.encode(),
                     f"</{verb}>".encode()))
    # responseDate is the watermark: a harvester using it as its next `from` misses nothing.
    return Reply(dates.datestamp(upper), [page])


def list_identifiers(ctx: Context, args: dict[str, str]) -> Reply:
    return _list(ctx, args, "ListIdentifiers", False)


def list_records(ctx: Context, args: dict[str, str]) -> Reply:
    return _list(ctx, args, "ListRecords", True)


def _set_xml(row) -> str:
    desc = ""
    if row.description:
        desc = (f'<setDescription><oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" '
                f'xsi:schemaLocation="{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">'
                f"<dc:description>{envelope.text(row.description)}</dc:description></oai_dc:dc></setDescription>")
    return f"<set><setSpec>{row.spec}</setSpec><setName>{envelope.text(row.name)}</setName>{desc}</set>"


def list_sets(ctx: Context, args: dict[str, str]) -> Reply:
    s = ctx.settings
    now_s = int(time.time())
    after, cursor, size = None, 0, None
    if "resumptionToken" in args:
        st = tokens.decode(args["resumptionToken"], s.secret_key, "ListSets", now_s)
        if len(st.after) != 1:
            raise OAIError(Code.BAD_RESUMPTION_TOKEN, "the resumptionToken is no longer valid")
        after, cursor, size = str(st.after[0]), st.cursor, st.complete_size
    with ctx.engine.connect() as conn:
        if after is None and not queries.has_sets(conn):
            raise OAIError(Code.NO_SET_HIERARCHY, "this repository has no sets")
        rows = queries.list_sets(conn, after, s.page_size + 1)
        more = len(rows) > s.page_size
        rows = rows[: s.page_size]
        if size is None:
            size = queries.count_sets(conn) if more else len(rows)
    if not rows:
        raise OAIError(Code.BAD_RESUMPTION_TOKEN, "the sets after this token were removed; list the sets again")
    token_xml = ""
    if more:
        expires = now_s + s.token_ttl_seconds
        token = tokens.encode(tokens.TokenState("ListSets", None, None, None, None, (rows[-1].spec,),
                                                cursor + len(rows), size, expires), s.secret_key)
        token_xml = envelope.resumption_token(token, cursor, size, dates.datestamp(expires * 1_000_000))
    elif after is not None:
        token_xml = envelope.resumption_token(None, cursor, max(size, cursor + len(rows)), None)
    body = "<ListSets>" + "".join(_set_xml(r) for r in rows) + token_xml + "</ListSets>"
    return Reply(dates.now_datestamp(), [body])


HANDLERS: dict[str, Callable[[Context, dict[str, str]], Reply]] = {
    "Identify": identify,
    "GetRecord": get_record,
    "ListIdentifiers": list_identifiers,
    "ListRecords": list_records,
    "ListMetadataFormats": list_metadata_formats,
    "ListSets": list_sets,
}
