"""Health and status of a daemon."""

from __future__ import annotations

from pydantic import Field

from loopsy.protocol.models import ResponseModel


class Health(ResponseModel):
    """The one unauthenticated answer: enough to know a Loopsy daemon is there."""

    ok: bool = True
    service: str = "loopsy"
    version: str


class Listener(ResponseModel):
    kind: str = Field(description="'tcp', 'unix' or 'mesh' (the peer TLS listener)")
    address: str


class Status(ResponseModel):
    version: str
    pid: int
    node_id: str
    node_name: str
    started_at: float = Field(description="Unix time the daemon started")
    uptime: float = Field(description="Seconds since the daemon started")
    listeners: list[Listener]
    lan: bool = Field(description="True when the TCP listener is exposed beyond loopback")
    home: str
