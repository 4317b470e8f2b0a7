"""File transfer: list a directory, read a file as a stream, write one atomically.

Every path goes through :mod:`loopsy.daemon.confine`. Contents stream in chunks: neither
direction ever holds a whole file in memory.

A write lands all or nothing: the bytes go to an unnamed file in the destination
directory (``O_TMPFILE``; a hidden temp name where the file system lacks it), are
fsynced, and only then linked or renamed into place, followed by an fsync of the
directory. A daemon killed mid-transfer leaves the old file as it was and no partial
file under the target's name. Without ``overwrite`` an existing file is never replaced
(the link into place fails atomically if the name was taken meanwhile).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread

from loopsy.config import TransferConfig
from loopsy.daemon.confine import Confinement, open_dir, open_in, open_real, os_error
from loopsy.home import LoopsyHome
from loopsy.protocol.errors import Conflict, PayloadTooLarge, ValidationFailed
from loopsy.protocol.files import FileEntry, FileListing, FileType, FileWritten

CHUNK = 1 << 20
# A directory listing reads at most this many names (a listing is sorted, so all are read).
MAX_SCAN = 100_000
NEW_FILE_MODE = 0o644


@dataclass(frozen=True)
class OpenedFile:
    """A regular file opened for reading, hashed, ready to stream."""

    fd: int
    path: str
    size: int
    mode: int
    sha256: str


class FileService:
    def __init__(self, home: LoopsyHome, transfer: Callable[[], TransferConfig]) -> None:
        """``transfer()`` gives the live config, so an edit applies to the next request."""
        self.home = home
        self._transfer = transfer
        self._cached: tuple[tuple[tuple[str, ...], tuple[str, ...]], Confinement] | None = None

    @property
    def max_size(self) -> int:
        return self._transfer().max_file_size

    def confinement(self) -> Confinement:
        config = self._transfer()
        # $LOOPSY_HOME is always denied: config.yaml and the database are never files to
        # hand out, whatever deniedPaths says.
        key = (tuple(config.allowed_paths), (*config.denied_paths, str(self.home.root)))
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, Confinement.of(*key))
        return self._cached[1]

    # -- list ------------------------------------------------------------------------

    async def list_dir(self, raw: str, limit: int) -> FileListing:
        real = self.confinement().resolve(raw)
        return await anyio.to_thread.run_sync(_list_dir, real, limit, raw)

    # -- read ------------------------------------------------------------------------

    async def open_read(self, raw: str) -> OpenedFile:
        """Open and hash a regular file; the caller streams it with :func:`read_chunks`."""
        real = self.confinement().resolve(raw)
        fd = await anyio.to_thread.run_sync(
            open_real, real, os.O_RDONLY | os.O_NONBLOCK  # a FIFO must not block the open
        )
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise ValidationFailed(
                    f"{raw} is a directory", hint="list it with `loopsy files ls`"
                )
            if not stat.S_ISREG(info.st_mode):
                raise ValidationFailed(f"{raw} is not a regular file")
            if info.st_size > self.max_size:
                raise PayloadTooLarge(
                    f"{raw} is {info.st_size} bytes; transfer.maxFileSize is {self.max_size}"
                )
            digest = await anyio.to_thread.run_sync(_hash_fd, fd, info.st_size)
        except BaseException:
            os.close(fd)
            raise
        return OpenedFile(fd, real, info.st_size, stat.S_IMODE(info.st_mode), digest)

    # -- write -----------------------------------------------------------------------

    async def write(
        self,
        raw: str,
        chunks: AsyncIterator[bytes],
        *,
        overwrite: bool = False,
        mode: int | None = None,
        expected_sha256: str | None = None,
        declared_size: int | None = None,
    ) -> FileWritten:
        """Store the streamed bytes at ``raw``; see the module docstring for the guarantees."""
        limit = self.max_size
        if declared_size is not None and declared_size > limit:
            raise PayloadTooLarge(
                f"the file is {declared_size} bytes; transfer.maxFileSize is {limit}"
            )
        parent, name = self.confinement().resolve_parent(raw)
        target = os.path.join(parent, name)
        dir_fd = await anyio.to_thread.run_sync(open_dir, parent)
        try:
            existing = _existing_mode(dir_fd, name, target, overwrite)
            fd, temp_name = await anyio.to_thread.run_sync(_create_temp, dir_fd, name, target)
            try:
                size, digest = await _receive(fd, chunks, limit, raw)
                if expected_sha256 is not None and digest != expected_sha256:
                    raise ValidationFailed(
                        f"the received bytes hash to {digest}, not {expected_sha256}; "
                        "nothing was stored",
                        hint="the file changed while it was sent, or the transfer was damaged",
                    )
                final_mode = mode if mode is not None else existing
                if final_mode is None:
                    final_mode = NEW_FILE_MODE
                await anyio.to_thread.run_sync(
                    _commit, fd, temp_name, dir_fd, name, target, overwrite, final_mode
                )
                temp_name = None
            finally:
                os.close(fd)
                if temp_name is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(temp_name, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        return FileWritten(path=target, size=size, sha256=digest, created=existing is None)


async def read_chunks(opened: OpenedFile) -> AsyncIterator[bytes]:
    """Exactly ``opened.size`` bytes, a chunk at a time; closes the file at the end."""
    try:
        offset = 0
        while offset < opened.size:
            data = await anyio.to_thread.run_sync(
                os.pread, opened.fd, min(CHUNK, opened.size - offset), offset
            )
            if not data:
                # Truncated while being sent: end the response short, so the client's
                # length check fails, rather than pad with bytes the file does not have.
                raise OSError(errno.EIO, f"{opened.path} shrank during the transfer")
            offset += len(data)
            yield data
    finally:
        os.close(opened.fd)


async def _receive(
    fd: int, chunks: AsyncIterator[bytes], limit: int, raw: str
) -> tuple[int, str]:
    hasher = hashlib.sha256()
    size = 0
    pending: list[bytes] = []
    pending_size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"{raw}: the upload passed transfer.maxFileSize ({limit} bytes); "
                "nothing was stored"
            )
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= CHUNK:
            await anyio.to_thread.run_sync(_write_all, fd, b"".join(pending), hasher)
            pending, pending_size = [], 0
    if pending:
        await anyio.to_thread.run_sync(_write_all, fd, b"".join(pending), hasher)
    return size, hasher.hexdigest()


def _write_all(fd: int, data: bytes, hasher: hashlib._Hash) -> None:
    hasher.update(data)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _hash_fd(fd: int, size: int) -> str:
    hasher = hashlib.sha256()
    offset = 0
    while offset < size:
        data = os.pread(fd, min(CHUNK, size - offset), offset)
        if not data:
            break
        hasher.update(data)
        offset += len(data)
    return hasher.hexdigest()


def _existing_mode(dir_fd: int, name: str, target: str, overwrite: bool) -> int | None:
    """The permission bits of the file being replaced, None if there is none."""
    try:
        info = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error(exc, target) from None
    if stat.S_ISLNK(info.st_mode):
        raise Conflict(
            f"{target} is a symlink; refusing to write through it",
            hint="remove the link first, or push to the path it points to",
        )
    if stat.S_ISDIR(info.st_mode):
        raise Conflict(f"{target} is a directory", hint="give the full path of a file in it")
    if not stat.S_ISREG(info.st_mode):
        raise Conflict(f"{target} exists and is not a regular file")
    if not overwrite:
        raise Conflict(
            f"{target} already exists",
            hint="pass overwrite=true (`loopsy files push -f`, or --overwrite) to replace it",
        )
    return stat.S_IMODE(info.st_mode)


def _create_temp(dir_fd: int, name: str, target: str) -> tuple[int, str | None]:
    """An unnamed file in the directory (``O_TMPFILE``), else a hidden temp name."""
    tmpfile = getattr(os, "O_TMPFILE", 0)
    if tmpfile:
        try:
            return os.open(".", os.O_WRONLY | tmpfile | os.O_CLOEXEC, 0o600, dir_fd=dir_fd), None
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise os_error(exc, target) from None
    temp_name = f".{name[:200]}.{secrets.token_hex(6)}.loopsy-part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    return open_in(dir_fd, temp_name, flags, target), temp_name


def _commit(
    fd: int,
    temp_name: str | None,
    dir_fd: int,
    name: str,
    target: str,
    overwrite: bool,
    mode: int,
) -> None:
    os.fchmod(fd, mode)
    os.fsync(fd)
    try:
        if temp_name is None:
            source, source_dir = f"/proc/self/fd/{fd}", None
            if overwrite:
                # Name it first (the only moment a temp name is visible), then rename.
                temp_name = f".{name[:200]}.{secrets.token_hex(6)}.loopsy-part"
                os.link(source, temp_name, dst_dir_fd=dir_fd)
        else:
            source, source_dir = temp_name, dir_fd
        if overwrite:
            assert temp_name is not None
            os.rename(temp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        else:
            # link() fails with EEXIST if the name was taken meanwhile: never a clobber.
            os.link(source, name, src_dir_fd=source_dir, dst_dir_fd=dir_fd)
            if temp_name is not None:
                os.unlink(temp_name, dir_fd=dir_fd)
    except OSError as exc:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp_name, dir_fd=dir_fd)
        raise os_error(exc, target) from None
    _fsync_dir(dir_fd)


def _fsync_dir(dir_fd: int) -> None:
    """Make the new name durable. ``dir_fd`` may be an ``O_PATH`` fd, which fsync refuses,
    so the directory is opened again for reading."""
    try:
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return  # a directory we may enter but not read: the rename stands, unsynced
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _list_dir(real: str, limit: int, raw: str) -> FileListing:
    try:
        fd = open_real(real, os.O_RDONLY | os.O_DIRECTORY)
    except Conflict:
        # ENOTDIR: say so when the path is simply not a directory (not a swapped symlink).
        with contextlib.suppress(OSError):
            if not stat.S_ISDIR(mode := os.lstat(real).st_mode) and not stat.S_ISLNK(mode):
                raise ValidationFailed(
                    f"{raw} is not a directory",
                    hint="`loopsy files pull` copies a file" if stat.S_ISREG(mode) else None,
                ) from None
        raise
    entries: list[FileEntry] = []
    truncated = False
    try:
        with os.scandir(fd) as it:
            for count, item in enumerate(it):
                if count >= MAX_SCAN:
                    truncated = True
                    break
                try:
                    info = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed while we looked
                kind = _kind(info.st_mode)
                target = os.readlink(item.name, dir_fd=fd) if kind == "symlink" else None
                entries.append(
                    FileEntry(
                        name=item.name,
                        type=kind,
                        size=info.st_size,
                        mtime=info.st_mtime,
                        mode=stat.S_IMODE(info.st_mode),
                        target=target,
                    )
                )
    finally:
        os.close(fd)
    entries.sort(key=lambda e: e.name)
    if len(entries) > limit:
        entries, truncated = entries[:limit], True
    return FileListing(path=real, entries=entries, truncated=truncated)


def _kind(mode: int) -> FileType:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"
