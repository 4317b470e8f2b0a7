"""Is the local daemon running, and what does ``GET /status`` say: with the standard
library alone.

``loopsy status`` (and ``start``'s wait, and ``stop``) only need this one answer; the
full client would first import httpx, anyio and pydantic, which is most of the command's
run time. The answer is the same JSON the full client parses into ``Status``.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any

from loopsy.home import LoopsyHome
from loopsy.protocol.errors import ProtocolError, api_error_from

API_PREFIX = "/api/v1"
TIMEOUT = 10.0


@dataclass(frozen=True)
class ListenerView:
    kind: str
    address: str


@dataclass(frozen=True)
class StatusView:
    """The fields of ``loopsy.protocol.status.Status`` the CLI shows; ``raw`` is the
    whole answer, for ``--json``."""

    raw: dict[str, Any]
    pid: int
    version: str
    node_id: str
    node_name: str
    uptime: float
    lan: bool
    listeners: tuple[ListenerView, ...]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=TIMEOUT)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(TIMEOUT)
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def local_status(home: LoopsyHome | None = None) -> StatusView | None:
    """The daemon's status over ``home``'s unix socket, or None if no daemon answers."""
    home = home or LoopsyHome.from_env()
    connection = _UnixConnection(str(home.socket))
    try:
        connection.request("GET", f"{API_PREFIX}/status", headers={"Host": "localhost"})
        response = connection.getresponse()
        body = response.read()
    except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
        return None  # no socket, or a stale one: nobody is there
    except (OSError, http.client.HTTPException) as exc:
        raise ProtocolError(
            f"the daemon at {home.socket} did not answer properly: {exc}",
            hint="it may be stuck: `loopsy stop` stops it (killing it if it must), then "
            "`loopsy start`; see logs/daemon.log",
        ) from None
    finally:
        connection.close()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if response.status >= 400:
        raise api_error_from(response.status, data)
    try:
        return StatusView(
            raw=data,
            pid=int(data["pid"]),
            version=str(data["version"]),
            node_id=str(data["node_id"]),
            node_name=str(data["node_name"]),
            uptime=float(data["uptime"]),
            lan=bool(data["lan"]),
            listeners=tuple(
                ListenerView(str(x["kind"]), str(x["address"])) for x in data["listeners"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"unexpected status from the daemon: {exc!r}") from None
