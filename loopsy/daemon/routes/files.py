"""``/files``: list a directory, pull a file (``GET /files/content``), push one
(``PUT /files/content``), all confined (see :mod:`loopsy.daemon.confine`).

Contents are raw bytes streamed both ways; push reads ``request.stream()`` itself rather
than through the JSON body parser, so a file is never held in memory.
"""

from __future__ import annotations

import anyio
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from loopsy.daemon.endpoints import Call, endpoint
from loopsy.daemon.files import read_chunks
from loopsy.protocol.errors import BadRequest
from loopsy.protocol.files import (
    MODE_HEADER,
    OCTET_STREAM,
    SHA256_HEADER,
    FileListing,
    FileListQuery,
    FileReadQuery,
    FileWriteQuery,
    FileWritten,
)

TAGS = ("files",)


class FileStream(StreamingResponse):
    """A streaming response that always closes its file, even when the client leaves."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except ClientDisconnect:
            pass  # nobody is left to answer
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]


@endpoint(
    "GET",
    "/files/list",
    summary="List a directory",
    query=FileListQuery,
    response=FileListing,
    rate="transfer",
    tags=TAGS,
)
async def list_files(call: Call[None, FileListQuery]) -> FileListing:
    """Entries sorted by name with type, size, mtime and mode; symlinks are shown as such
    (with their target), never followed."""
    return await call.services.files.list_dir(call.query.path, call.query.limit)


@endpoint(
    "GET",
    "/files/content",
    summary="Pull a file",
    query=FileReadQuery,
    rate="transfer",
    response_media=OCTET_STREAM,
    tags=TAGS,
)
async def pull_file(call: Call[None, FileReadQuery]) -> Response:
    """The file's bytes, streamed. ``X-Loopsy-Sha256`` carries their SHA-256 (taken before
    sending; if the file changes meanwhile the client's check fails), ``X-Loopsy-Mode``
    the permission bits, ``Content-Length`` the size."""
    opened = await call.services.files.open_read(call.query.path)
    return FileStream(
        read_chunks(opened),
        media_type=OCTET_STREAM,
        headers={
            "Content-Length": str(opened.size),
            SHA256_HEADER: opened.sha256,
            MODE_HEADER: str(opened.mode),
        },
    )


@endpoint(
    "PUT",
    "/files/content",
    summary="Push a file",
    query=FileWriteQuery,
    response=FileWritten,
    rate="transfer",
    request_media=OCTET_STREAM,
    tags=TAGS,
)
async def push_file(call: Call[None, FileWriteQuery]) -> FileWritten:
    """The request body is the file's bytes. Stored atomically (temp file, fsync, rename):
    a failed or interrupted push leaves the old file intact. An existing file is replaced
    only with ``overwrite=true`` (else 409); over ``transfer.maxFileSize`` is 413; a
    ``sha256`` that does not match what arrived is 422. ``created`` says whether the
    file is new."""
    q = call.query
    declared = call.request.headers.get("content-length")
    try:
        size = int(declared) if declared is not None else None
    except ValueError:
        raise BadRequest("Content-Length is not a number") from None
    try:
        return await call.services.files.write(
            q.path,
            call.request.stream(),
            overwrite=q.overwrite,
            mode=q.mode,
            expected_sha256=q.sha256,
            declared_size=size,
        )
    except ClientDisconnect:
        raise BadRequest("the client went away before the upload finished") from None


routes = [list_files, pull_file, push_file]
