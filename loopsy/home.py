"""The data directory, ``$LOOPSY_HOME`` (default ``~/.loopsy``): every path Loopsy keeps.

Nothing else in the package joins path fragments under the home; it asks this class.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from loopsy.protocol.errors import ConfigError

# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), NUL included.
MAX_SOCKET_PATH = 103


@dataclass(frozen=True)
class LoopsyHome:
    root: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> LoopsyHome:
        env = os.environ if environ is None else environ
        value = env.get("LOOPSY_HOME")
        root = Path(value).expanduser() if value else Path.home() / ".loopsy"
        return cls(root.absolute())

    @property
    def config_file(self) -> Path:
        return self.root / "config.yaml"

    @property
    def database(self) -> Path:
        return self.root / "loopsy.db"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def audit_log(self) -> Path:
        return self.logs_dir / "audit.jsonl"

    @property
    def daemon_log(self) -> Path:
        return self.logs_dir / "daemon.log"

    @property
    def pid_file(self) -> Path:
        return self.root / "daemon.pid"

    @property
    def socket(self) -> Path:
        return self.root / "loopsyd.sock"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    @property
    def relay_file(self) -> Path:
        """The last deployed Cloudflare relay (written by ``loopsy relay deploy``)."""
        return self.root / "relay.json"

    @property
    def mesh_dir(self) -> Path:
        """The peer TLS listener's certificate and key."""
        return self.root / "mesh"

    def session_dir(self, session_id: str) -> Path:
        return self.sessions_dir / session_id

    def ensure(self) -> None:
        """Create the directory tree, private to the user (0700)."""
        for path in (self.root, self.logs_dir, self.sessions_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)

    def check_socket_path(self) -> None:
        if len(os.fsencode(self.socket)) > MAX_SOCKET_PATH:
            raise ConfigError(
                f"LOOPSY_HOME is too deep for a unix socket: {self.socket} is "
                f"{len(os.fsencode(self.socket))} bytes, the limit is {MAX_SOCKET_PATH}",
                hint="set LOOPSY_HOME to a shorter path, such as ~/.loopsy",
            )


@contextmanager
def atomic_writer(
    path: Path, mode: int = 0o600, binary: bool = False
) -> Iterator[IO[str] | IO[bytes]]:
    """Write ``path`` all-or-nothing: a temp file in the same directory, fsync, rename.

    A crash at any instant leaves either the old file or the new one, never half of either.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    with atomic_writer(path, mode=mode, binary=isinstance(data, bytes)) as f:
        f.write(data)  # type: ignore[arg-type]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
