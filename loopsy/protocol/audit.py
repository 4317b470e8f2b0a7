"""Reading the audit log: the query, the records, and the live tail's messages.

A record is one request (``method``, ``path``, ``status``, ``ms``) or one event a service
recorded (``event`` and its own fields); both have ``ts`` and ``caller``. Records keep
whatever other fields they were written with.

The live tail (``GET /audit/stream``, a WebSocket) sends JSON text messages::

    {"type": "record", "record": {...}}     a record, as written
    {"type": "dropped", "count": N}         N records were skipped: the reader was slow
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from loopsy.protocol.models import RequestModel, ResponseModel

MAX_RECORDS = 10_000
MAX_BACKLOG = 1000


class AuditFilter(RequestModel):
    """Which records to read; every given field must match."""

    caller: str | None = Field(None, description="Exact caller, e.g. 'local:local', 'key:api'")
    method: str | None = Field(None, description="HTTP method, or 'WS' for WebSockets")
    path: str | None = Field(None, description="Path prefix, e.g. '/api/v1/files'")
    min_status: Annotated[int, Field(ge=100, le=599)] | None = Field(
        None, description="Only statuses at or above this (400: failures)"
    )
    event: str | None = Field(None, description="Only events with this name")
    since: float | None = Field(None, description="Only records at or after this Unix time")

    def matches(self, record: dict[str, object]) -> bool:
        if self.caller is not None and record.get("caller") != self.caller:
            return False
        if self.method is not None and record.get("method") != self.method:
            return False
        if self.path is not None and not str(record.get("path", "")).startswith(self.path):
            return False
        if self.min_status is not None:
            status = record.get("status")
            if not isinstance(status, int) or status < self.min_status:
                return False
        if self.event is not None and record.get("event") != self.event:
            return False
        if self.since is not None:
            ts = record.get("ts")
            if not isinstance(ts, int | float) or ts < self.since:
                return False
        return True


class AuditQuery(AuditFilter):
    """Query of ``GET /audit``: the newest ``limit`` matching records."""

    limit: Annotated[int, Field(ge=1, le=MAX_RECORDS)] = 100


class AuditStreamQuery(AuditFilter):
    """Query of the live tail: ``backlog`` recent records first, then each new one."""

    backlog: Annotated[int, Field(ge=0, le=MAX_BACKLOG)] = 0


class AuditRecord(ResponseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    ts: float = Field(description="Unix time")
    caller: str
    transport: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    ms: float | None = Field(None, description="Duration in milliseconds")
    event: str | None = None


class AuditPage(ResponseModel):
    records: list[AuditRecord] = Field(description="Oldest first, the newest last")


class AuditRecordMessage(ResponseModel):
    type: Literal["record"] = "record"
    record: AuditRecord


class AuditDroppedMessage(ResponseModel):
    type: Literal["dropped"] = "dropped"
    count: int
