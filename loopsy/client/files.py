"""``client.files``: list, push and pull files on the daemon's machine, streaming.

    listing = await client.files.list("/home/me/project")
    written = await client.files.push(Path("notes.md"), "/home/me/notes.md", overwrite=True)
    pulled = await client.files.pull("/home/me/log.txt", Path("log.txt"))

Both directions are checked end to end with SHA-256: a push sends the hash it expects
(the daemon stores nothing if the bytes differ) and compares the one it gets back; a pull
hashes what arrives and keeps the local file only if it matches the daemon's.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import httpx

from loopsy.client.core import parse, raise_for_error
from loopsy.protocol.errors import LoopsyError, ProtocolError
from loopsy.protocol.files import (
    DEFAULT_LISTING,
    MODE_HEADER,
    OCTET_STREAM,
    SHA256_HEADER,
    FileListing,
    FilePulled,
    FileWritten,
)

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient

CHUNK = 1 << 20
# Transfers can be long: no overall timeout, but a stalled socket still fails.
TRANSFER_TIMEOUT = httpx.Timeout(None, connect=5.0, read=120.0, write=120.0)

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as a transfer moves."""


class FilesApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def list(self, remote: str, *, limit: int = DEFAULT_LISTING) -> FileListing:
        """A directory's entries, sorted by name (``truncated`` past ``limit``)."""
        return await self._client.get_model(
            "/files/list", FileListing, params={"path": remote, "limit": limit}
        )

    async def push(
        self,
        local: Path,
        remote: str,
        *,
        overwrite: bool = False,
        mode: int | None = None,
        progress: Progress | None = None,
    ) -> FileWritten:
        """Send the local file ``local`` to ``remote`` (an absolute path there)."""
        size, digest, local_mode = await anyio.to_thread.run_sync(_hash_local, local)
        params: dict[str, object] = {
            "path": remote,
            "overwrite": "true" if overwrite else "false",
            "sha256": digest,
            "mode": local_mode if mode is None else mode,
        }

        async def body() -> AsyncIterator[bytes]:
            sent = 0
            async with await anyio.open_file(local, "rb") as f:
                while sent < size:
                    chunk = await f.read(min(CHUNK, size - sent))
                    if not chunk:
                        raise LoopsyError(f"{local} shrank while it was being sent")
                    sent += len(chunk)
                    if progress is not None:
                        progress(sent, size)
                    yield chunk

        response = await self._client.request(
            "PUT",
            "/files/content",
            params=params,
            content=body(),
            headers={"Content-Type": OCTET_STREAM, "Content-Length": str(size)},
            request_timeout=TRANSFER_TIMEOUT,
        )
        written = parse(FileWritten, response)
        if written.sha256 != digest or written.size != size:
            raise ProtocolError(
                f"the daemon stored {written.size} bytes hashing to {written.sha256}; "
                f"{size} bytes hashing to {digest} were sent"
            )
        return written

    async def pull(
        self,
        remote: str,
        local: Path,
        *,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> FilePulled:
        """Fetch ``remote`` into the local file ``local``, atomically: the file appears
        complete and verified, or not at all (an old one stays as it was)."""
        local = await anyio.to_thread.run_sync(_local_target, local, overwrite)
        try:
            async with self._client.stream(
                "GET", "/files/content", params={"path": remote}, timeout=TRANSFER_TIMEOUT
            ) as response:
                await raise_for_error(response)
                return await _receive(response, remote, local, overwrite, progress)
        except (httpx.ConnectError, ConnectionRefusedError, FileNotFoundError) as exc:
            raise self._client.not_running(exc) from None
        except httpx.TransportError as exc:
            raise LoopsyError(
                f"the transfer of {remote} was cut short ({exc or type(exc).__name__})",
                hint="try again",
            ) from None


async def _receive(
    response: httpx.Response,
    remote: str,
    local: Path,
    overwrite: bool,
    progress: Progress | None,
) -> FilePulled:
    expected = response.headers.get(SHA256_HEADER, "")
    total = int(response.headers.get("content-length", "0") or 0)
    try:
        mode = int(response.headers.get(MODE_HEADER, "420")) & 0o777
    except ValueError:
        mode = 0o644
    temp = local.parent / f".{local.name[:200]}.{secrets.token_hex(6)}.loopsy-part"
    hasher = hashlib.sha256()
    size = 0
    try:
        async with await anyio.open_file(temp, "xb") as f:
            async for chunk in response.aiter_raw(CHUNK):
                hasher.update(chunk)
                await f.write(chunk)
                size += len(chunk)
                if progress is not None:
                    progress(size, total)
            await f.flush()
            await anyio.to_thread.run_sync(os.fsync, f.wrapped.fileno())
        digest = hasher.hexdigest()
        if digest != expected:
            raise ProtocolError(
                f"{remote} arrived hashing to {digest}, but the daemon sent {expected or 'none'}",
                hint="the file changed while it was sent; pull it again",
            )
        os.chmod(temp, mode)
        if overwrite:
            os.replace(temp, local)
        else:
            os.link(temp, local)  # fails if the name was taken meanwhile: no clobber
            temp.unlink()
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, OSError):
            raise LoopsyError(f"cannot write {local}: {exc.strerror or exc}") from None
        raise
    return FilePulled(remote=remote, path=str(local), size=size, sha256=digest)


def _local_target(local: Path, overwrite: bool) -> Path:
    """The absolute local path to pull into, if it may be written."""
    if not overwrite and (local.exists() or local.is_symlink()):
        raise LoopsyError(f"{local} already exists", hint="pass --overwrite to replace it")
    if not local.parent.is_dir():
        raise LoopsyError(f"{local.parent} is not a directory here")
    return local.absolute()


def _hash_local(local: Path) -> tuple[int, str, int]:
    """(size, sha256, permission bits) of a local regular file."""
    try:
        return _hash_open(local)
    except OSError as exc:
        raise LoopsyError(f"cannot read {local}: {exc.strerror or exc}") from None


def _hash_open(local: Path) -> tuple[int, str, int]:
    with open(local, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise LoopsyError(f"{local} is not a regular file")
        hasher = hashlib.sha256()
        size = 0
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return size, hasher.hexdigest(), stat.S_IMODE(info.st_mode)
