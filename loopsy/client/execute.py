"""``client.execute``: run commands on the daemon's machine.

    result = await client.execute.run(["git", "status"], cwd="/home/me/src")
    status = await client.execute.stream(ExecCommand(argv=["make"]), on_output=write)
    jobs = await client.execute.jobs()
    await client.execute.cancel(job_id)
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from loopsy.client.core import path
from loopsy.protocol.errors import (
    ProtocolError,
    Unavailable,
    api_error_from,
    api_error_from_close,
)
from loopsy.protocol.execute import (
    ExecResult,
    JobInfo,
    JobList,
    StreamError,
    StreamExit,
    StreamStarted,
    decode_output,
)

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient

# The longest execution.defaultTimeout allows, plus the kill grace and slack: a request
# is never left waiting on a daemon that has given up.
LONGEST_RUN = 86400.0
SLACK = 60.0

OutputHandler = Callable[[int, bytes], Awaitable[None] | None]
StartHandler = Callable[[StreamStarted], Awaitable[None] | None]


@dataclass(frozen=True)
class ExecCommand:
    """What to run. Exactly one of ``argv`` or ``shell`` (the daemon checks, and says why)."""

    argv: Sequence[str] | None = None
    shell: str | None = None
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    stdin: str | None = None

    def body(self) -> dict[str, Any]:
        # Sent unvalidated: the daemon's 422 names the field, and it is the one authority.
        body: dict[str, Any] = {}
        if self.argv is not None:
            body["argv"] = list(self.argv)
        if self.shell is not None:
            body["shell"] = self.shell
        if self.cwd is not None:
            body["cwd"] = self.cwd
        if self.env:
            body["env"] = dict(self.env)
        if self.timeout is not None:
            body["timeout"] = self.timeout
        if self.stdin is not None:
            body["stdin"] = self.stdin
        return body

    def wait_limit(self) -> float:
        return (self.timeout if self.timeout is not None else LONGEST_RUN) + SLACK


class ExecuteApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def run(
        self,
        argv: Sequence[str] | None = None,
        *,
        shell: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the command's, sent to the daemon)
        stdin: str | None = None,
    ) -> ExecResult:
        """Run to the end; output comes back capped at the daemon's execution.maxOutput."""
        command = ExecCommand(argv, shell, cwd, env or {}, timeout, stdin)
        return await self.submit(command)

    async def submit(self, command: ExecCommand) -> ExecResult:
        response = await self._client.request(
            "POST", "/execute", json_body=command.body(), request_timeout=command.wait_limit()
        )
        try:
            return ExecResult.model_validate_json(response.content)
        except ValidationError as exc:
            raise ProtocolError(f"unexpected answer from the daemon: {exc}") from None

    async def stream(
        self,
        command: ExecCommand,
        *,
        on_output: OutputHandler,
        on_started: StartHandler | None = None,
    ) -> StreamExit:
        """Run, calling ``on_output(stream, bytes)`` (1 stdout, 2 stderr) as output comes.
        Cancelling this call (Ctrl-C) closes the socket, which cancels the command."""
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        try:
            ws = await self._client.websocket("/execute/stream")
        except InvalidStatus as refused:
            raise _handshake_error(refused) from None
        finished: StreamExit | None = None
        failed: StreamError | None = None
        try:
            await ws.send(json.dumps(command.body()))
            while True:
                try:
                    frame = await ws.recv()
                except ConnectionClosed as closed:
                    rcvd = closed.rcvd
                    error = api_error_from_close(rcvd.code, rcvd.reason) if rcvd else None
                    if error is not None and failed is not None:
                        error = api_error_from(failed.status, {"error": failed.error})
                    if error is not None:
                        raise error from None
                    if finished is not None:
                        return finished
                    if rcvd is not None and rcvd.code in (1001, 1012):
                        raise Unavailable(
                            "the daemon stopped while the command ran; the command was ended",
                            hint="start it again with `loopsy start`",
                        ) from None
                    raise ProtocolError("the stream ended without an exit status") from None
                if isinstance(frame, bytes):
                    stream, data = decode_output(frame)
                    await _call(on_output, stream, data)
                    continue
                kind = _frame_type(frame)
                if kind == "started" and on_started is not None:
                    await _call(on_started, StreamStarted.model_validate_json(frame))
                elif kind == "exit":
                    finished = StreamExit.model_validate_json(frame)
                elif kind == "error":
                    failed = StreamError.model_validate_json(frame)
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    async def jobs(self) -> list[JobInfo]:
        """Running commands: the caller's own (every one, on the unix socket)."""
        return (await self._client.get_model("/execute/jobs", JobList)).jobs

    async def cancel(self, job_id: str) -> JobInfo:
        """Kill a running command's process group; its request ends with cancelled=true."""
        return await self._client.call_model("DELETE", path("execute", "jobs", job_id), JobInfo)


async def _call(handler: Callable[..., Awaitable[None] | None], *args: Any) -> None:
    result = handler(*args)
    if inspect.isawaitable(result):
        await result


def _frame_type(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("the daemon sent a text frame that is not JSON") from None
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        raise ProtocolError("the daemon sent a frame without a type")
    return kind


def _handshake_error(refused: Any) -> Exception:
    response = refused.response
    try:
        body = json.loads(bytes(response.body or b""))
    except ValueError:
        body = None
    return api_error_from(response.status_code, body)
