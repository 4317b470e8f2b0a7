"""File transfer: listing a directory, and the queries and answers around the raw byte
streams of push (``PUT /files/content``) and pull (``GET /files/content``).

Paths are absolute paths on the daemon's machine. Contents travel as raw bytes
(``application/octet-stream``), never JSON; the SHA-256 of what was stored or sent comes
back (push: in the JSON answer; pull: in the ``X-Loopsy-Sha256`` header) so the client
can check it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from loopsy.protocol.models import RequestModel, ResponseModel

SHA256_HEADER = "X-Loopsy-Sha256"
MODE_HEADER = "X-Loopsy-Mode"
OCTET_STREAM = "application/octet-stream"
MAX_LISTING = 10_000
DEFAULT_LISTING = 1000

FileType = Literal["file", "dir", "symlink", "other"]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class FileEntry(ResponseModel):
    name: str
    type: FileType = Field(description="'symlink' for a link itself (never followed here)")
    size: int = Field(description="Bytes (for a symlink: the length of its target)")
    mtime: float = Field(description="Unix time of the last modification")
    mode: int = Field(description="Permission bits, e.g. 420 (0o644)")
    target: str | None = Field(None, description="Where a symlink points, as written")


class FileListing(ResponseModel):
    path: str = Field(description="The directory's real path")
    entries: list[FileEntry] = Field(description="Sorted by name")
    truncated: bool = Field(description="True when the directory holds more than the limit")


class FileListQuery(RequestModel):
    path: str = Field(description="Absolute path of a directory")
    limit: Annotated[int, Field(ge=1, le=MAX_LISTING)] = DEFAULT_LISTING


class FileReadQuery(RequestModel):
    path: str = Field(description="Absolute path of a regular file")


class FileWriteQuery(RequestModel):
    path: str = Field(description="Absolute path of the file to create or replace")
    overwrite: bool = Field(False, description="Replace an existing file (else 409 conflict)")
    mode: Annotated[int, Field(ge=0, le=0o777)] | None = Field(
        None,
        description="Permission bits of the stored file; default: the replaced file's, "
        "or 420 (0o644) for a new one",
    )
    sha256: Sha256Hex | None = Field(
        None, description="Expected SHA-256 (hex); on a mismatch nothing is stored (422)"
    )


class FileWritten(ResponseModel):
    path: str = Field(description="Real path of the stored file")
    size: int
    sha256: str = Field(description="SHA-256 (hex) of the bytes stored")
    created: bool = Field(description="False when an existing file was replaced")


class FilePulled(ResponseModel):
    """What the client reports after a pull (not sent by the daemon)."""

    remote: str
    path: str
    size: int
    sha256: str
