"""``client.sessions``: PTY sessions — create, list, control, read, and attach.

    info = await client.sessions.create("claude", cwd="~/src/app", cols=120, rows=40)
    await client.sessions.send_input(info.id, "hello\\r")
    out = await client.sessions.read(info.id, since=0, wait=2.0)   # text + next offset
    screen = await client.sessions.screen(info.id)                  # what a terminal shows
    async with client.sessions.attach(info.id) as stream: ...       # the live stream
    await client.sessions.kill(info.id); await client.sessions.remove(info.id)

``ref`` is a session id or its name everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopsy.client.attach import Attachment
from loopsy.protocol.sessions import (
    ScreenText,
    SessionInfo,
    SessionList,
    SessionOutput,
)

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class SessionsApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    def _path(self, ref: str, *rest: str) -> str:
        from loopsy.client.core import path

        return path("sessions", ref, *rest)

    async def list(self) -> list[SessionInfo]:
        return (await self._client.get_model("/sessions", SessionList)).sessions

    async def create(
        self,
        agent: str | None = None,
        *,
        argv: Sequence[str] | None = None,
        args: Sequence[str] = (),
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        cols: int = 80,
        rows: int = 24,
        name: str | None = None,
        auto_approve: bool = False,
        record: bool | None = None,
    ) -> SessionInfo:
        """Start ``agent`` (a registry name; None and no argv: a shell) or ``argv``."""
        body: dict[str, Any] = {
            "agent": agent,
            "argv": list(argv) if argv is not None else None,
            "args": list(args),
            "cwd": cwd,
            "env": dict(env or {}),
            "cols": cols,
            "rows": rows,
            "name": name,
            "auto_approve": auto_approve,
            "record": record,
        }
        return await self._client.call_model("POST", "/sessions", SessionInfo, json_body=body)

    async def get(self, ref: str) -> SessionInfo:
        return await self._client.get_model(self._path(ref), SessionInfo)

    async def rename(self, ref: str, name: str) -> SessionInfo:
        return await self._client.call_model(
            "PATCH", self._path(ref), SessionInfo, json_body={"name": name}
        )

    async def resize(self, ref: str, cols: int, rows: int) -> SessionInfo:
        return await self._client.call_model(
            "POST", self._path(ref, "resize"), SessionInfo, json_body={"cols": cols, "rows": rows}
        )

    async def signal(self, ref: str, name: str) -> SessionInfo:
        return await self._client.call_model(
            "POST", self._path(ref, "signal"), SessionInfo, json_body={"name": name}
        )

    async def kill(self, ref: str, grace: float = 3.0) -> SessionInfo:
        """End the program (SIGHUP, then SIGKILL after ``grace``); returns once exited."""
        return await self._client.call_model(
            "POST", self._path(ref, "kill"), SessionInfo, json_body={"grace": grace}
        )

    async def restart(self, ref: str) -> SessionInfo:
        return await self._client.call_model("POST", self._path(ref, "restart"), SessionInfo)

    async def remove(self, ref: str, *, force: bool = False) -> None:
        await self._client.request(
            "DELETE", self._path(ref), params={"force": "true" if force else None}
        )

    async def send_input(self, ref: str, data: str) -> None:
        """Type ``data`` (``\\r`` is Enter). At most 64 KiB per call."""
        await self._client.request("POST", self._path(ref, "input"), json_body={"data": data})

    async def read(
        self, ref: str, since: int = 0, *, max_bytes: int = 65536, wait: float = 0.0
    ) -> SessionOutput:
        """Output from offset ``since``; waits up to ``wait`` s for some. Pass ``next`` back."""
        response = await self._client.request(
            "GET",
            self._path(ref, "output"),
            params={"since": since, "max": max_bytes, "wait": wait},
            request_timeout=wait + 30,
        )
        from loopsy.client.core import parse

        return parse(SessionOutput, response)

    async def screen(self, ref: str) -> ScreenText:
        return await self._client.get_model(self._path(ref, "screen"), ScreenText)

    def attach(
        self,
        ref: str,
        *,
        offset: int | None = None,
        cols: int = 0,
        rows: int = 0,
        auto_ack: bool = True,
        reconnect: bool = True,
    ) -> Attachment:
        """The live stream (``async with``). ``offset``: the last offset you hold, to get
        exactly what you miss (None: a snapshot of the screen first). ``cols``/``rows``:
        your terminal's size, applied before the snapshot (0: leave the size)."""
        return Attachment(
            self._client,
            ref,
            offset=offset,
            cols=cols,
            rows=rows,
            auto_ack=auto_ack,
            reconnect=reconnect,
        )
