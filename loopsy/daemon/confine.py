"""Where file access may go: inside ``transfer.allowedPaths``, outside ``deniedPaths`` (and
always outside ``$LOOPSY_HOME``), judged on the resolved real path.

Two layers, both needed:

1. :meth:`Confinement.resolve` resolves every symlink and ``..`` (``os.path.realpath``) and
   compares whole path components, so ``/home/youngster`` is not inside ``/home/you`` and
   a symlink in an allowed directory pointing outside resolves outside and is refused.
2. :func:`open_dir` and :func:`open_in` then open that real path one component at a time
   with ``O_NOFOLLOW``: if anything on the path was swapped for a symlink after the check,
   the open fails instead of following it (no time-of-check/time-of-use escape).

Writes go through :meth:`Confinement.resolve_parent`: the directory is resolved, the final
name must be a plain name, and the caller creates the file with ``dir_fd`` and
``O_NOFOLLOW``, so a symlink at the final component is never written through.

The file transfer routes use this module, and so can anything else that touches files
for a remote caller (the mesh's MCP transfer tools).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass

from loopsy.protocol.errors import ApiError, Conflict, Forbidden, NotFound, ValidationFailed

MAX_PATH_BYTES = 4096
# O_PATH (Linux) opens a directory for traversal without needing read permission on it.
_TRAVERSE = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_path_text(raw: str) -> str:
    """Refuse paths that are empty, relative, too long or hold NUL; the path, normalised
    (``..`` is left for realpath to resolve against the real directories)."""
    if not raw:
        raise ValidationFailed("path must not be empty")
    if "\x00" in raw:
        raise ValidationFailed("path holds a NUL byte")
    try:
        size = len(raw.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        raise ValidationFailed("path is not valid UTF-8") from None
    if size > MAX_PATH_BYTES:
        raise ValidationFailed(f"path is {size} bytes; the limit is {MAX_PATH_BYTES}")
    if not raw.startswith("/"):
        raise ValidationFailed(
            f"path must be absolute, not {raw!r}",
            hint="the daemon has no working directory; `loopsy files` makes paths absolute",
        )
    return raw


def is_within(path: str, root: str) -> bool:
    """True if ``path`` is ``root`` or below it, comparing whole components."""
    if root == "/":
        return True
    return path == root or path.startswith(root + "/")


@dataclass(frozen=True)
class Confinement:
    """Allowed and denied roots, each already resolved to its real path."""

    allowed: tuple[str, ...]
    denied: tuple[str, ...]

    @classmethod
    def of(cls, allowed: Iterable[str], denied: Iterable[str]) -> Confinement:
        """Roots as configured; each is resolved (a root given through a symlink, such as
        macOS's /tmp, is compared by where it really is). ``~`` expands to the home."""
        return cls(
            tuple(_real_root(p) for p in allowed), tuple(_real_root(p) for p in denied)
        )

    def permits(self, real: str) -> bool:
        return any(is_within(real, root) for root in self.allowed) and not any(
            is_within(real, root) for root in self.denied
        )

    def check(self, real: str, raw: str) -> str:
        if not any(is_within(real, root) for root in self.allowed):
            raise Forbidden(
                f"{raw} is outside the allowed paths"
                + (f" (it resolves to {real})" if real != raw else ""),
                hint="transfer.allowedPaths in config.yaml lists where files may be read "
                "and written",
            )
        if any(is_within(real, root) for root in self.denied):
            raise Forbidden(
                f"{raw} is inside a denied path",
                hint="transfer.deniedPaths in config.yaml (and $LOOPSY_HOME, always) are "
                "off limits",
            )
        return real

    def resolve(self, raw: str) -> str:
        """The real path of ``raw`` (symlinks and ``..`` resolved), if it is permitted."""
        check_path_text(raw)
        return self.check(os.path.realpath(raw), raw)

    def resolve_parent(self, raw: str) -> tuple[str, str]:
        """For a write: (the real parent directory, the final name), if permitted.

        The final component is not resolved: a symlink there is refused when opened.
        """
        check_path_text(raw)
        parent, name = os.path.split(raw)
        if not name or name in (".", ".."):
            raise ValidationFailed(f"{raw} does not name a file", hint="give a file name")
        real_parent = os.path.realpath(parent or "/")
        self.check(os.path.join(real_parent, name), raw)
        return real_parent, name


def _real_root(configured: str) -> str:
    return os.path.realpath(os.path.expanduser(configured))


def open_dir(real: str) -> int:
    """An fd on the directory at ``real``, reached without following any symlink."""
    fd = os.open("/", _TRAVERSE)
    try:
        for part in [p for p in real.split("/") if p]:
            try:
                next_fd = os.open(part, _TRAVERSE, dir_fd=fd)
            except OSError as exc:
                raise os_error(exc, real) from None
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_in(dir_fd: int, name: str, flags: int, path: str, mode: int = 0o600) -> int:
    """Open ``name`` in ``dir_fd`` with ``O_NOFOLLOW``: a symlink there is an error."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as exc:
        raise os_error(exc, path) from None


def open_real(real: str, flags: int) -> int:
    """Open the real path ``real`` with ``flags``, following no symlink on the way."""
    if real == "/":
        return os.open("/", flags | os.O_CLOEXEC)
    parent, name = os.path.split(real)
    parent_fd = open_dir(parent)
    try:
        return open_in(parent_fd, name, flags, real)
    finally:
        os.close(parent_fd)


def os_error(exc: OSError, path: str) -> ApiError:
    """An OS error on ``path`` as the API error a caller can act on."""
    code = exc.errno
    if code == errno.ENOENT:
        return NotFound(f"{path} does not exist")
    if code in (errno.ELOOP, errno.ENOTDIR):
        return Conflict(
            f"{path} is, or passes through, a symlink or non-directory",
            hint="symlinks are followed only when they resolve inside the allowed paths",
        )
    if code in (errno.EACCES, errno.EPERM):
        return Forbidden(f"the operating system denies access to {path}")
    if code == errno.EISDIR:
        return Conflict(f"{path} is a directory")
    if code == errno.EEXIST:
        return Conflict(f"{path} already exists", hint="pass overwrite=true to replace it")
    if code in (errno.ENOSPC, errno.EDQUOT):
        return ApiError(f"no space left for {path}")
    if code == errno.EROFS:
        return Forbidden(f"{path} is on a read-only file system")
    return ApiError(f"cannot access {path}: {exc.strerror}")
