"""``/context``: the key/value store (see :mod:`loopsy.daemon.context`).

The key is the rest of the path, percent-decoded, so it may hold ``/``, ``:`` and ``..``
(clients quote it as one segment: ``/context/inbox%3Ab%3A1``).
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from loopsy.daemon.endpoints import Call, endpoint
from loopsy.daemon.messages import check_reserved
from loopsy.protocol.context import (
    ContextDeleteQuery,
    ContextEntry,
    ContextListQuery,
    ContextPage,
    ContextPut,
)
from loopsy.protocol.errors import NotFound

TAGS = ("context",)
# The body holds one value of at most 1 MiB of UTF-8; JSON escapes can make it up to
# six times longer, and the store names its own limit in a clearer 413.
MAX_BODY = 8 << 20


class AnyText(Convertor[str]):
    """The rest of the path, newlines included (Starlette's ``path`` stops at one), so a
    key with a control character reaches the store and gets its clear 422, not a 404."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("text", AnyText())


def _not_found(key: str) -> NotFound:
    return NotFound(f"no context key {key!r}", hint="`loopsy context list` shows the keys")


@endpoint(
    "GET",
    "/context",
    summary="List keys by prefix",
    query=ContextListQuery,
    response=ContextPage,
    rate="context",
    tags=TAGS,
)
async def list_context(call: Call[None, ContextListQuery]) -> ContextPage:
    """Live entries (values included) whose key starts with ``prefix``, in key order,
    a page at a time: pass ``next_after`` back as ``after`` for the next page."""
    q = call.query
    return call.services.context.list(q.prefix, after=q.after, limit=q.limit)


@endpoint(
    "GET",
    "/context/{key:text}",
    summary="Get a key",
    response=ContextEntry,
    rate="context",
    tags=TAGS,
)
async def get_context(call: Call[None, None]) -> ContextEntry:
    """The live entry; 404 if the key is absent or expired."""
    key = call.path_param("key")
    entry = call.services.context.get(key)
    if entry is None:
        raise _not_found(key)
    return entry


@endpoint(
    "PUT",
    "/context/{key:text}",
    summary="Set a key",
    body=ContextPut,
    response=ContextEntry,
    rate="context",
    max_body=MAX_BODY,
    tags=TAGS,
)
async def put_context(call: Call[ContextPut, None]) -> ContextEntry:
    """Write a value, optionally with a TTL in seconds. ``if_absent`` (set-if-absent) and
    ``if_version`` (compare-and-set) make the write conditional: 409 when the condition
    fails, with the current version in ``error.details.version``. The answer comes once
    the write is committed."""
    body = call.body
    key = call.path_param("key")
    check_reserved(call.caller, key)
    return call.services.context.set(
        key,
        body.value,
        ttl=body.ttl,
        if_absent=body.if_absent,
        if_version=body.if_version,
    )


@endpoint(
    "DELETE",
    "/context/{key:text}",
    summary="Delete a key",
    query=ContextDeleteQuery,
    status=204,
    rate="context",
    tags=TAGS,
)
async def delete_context(call: Call[None, ContextDeleteQuery]) -> None:
    """204 when deleted; 404 if there was no live entry; 409 if ``if_version`` differs."""
    key = call.path_param("key")
    check_reserved(call.caller, key)
    if not call.services.context.delete(key, if_version=call.query.if_version):
        raise _not_found(key)


routes = [list_context, get_context, put_context, delete_context]
