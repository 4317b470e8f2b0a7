"""Run commands: ``POST /execute`` (wait for the result), ``/execute/stream`` (WebSocket:
output as it comes), and the running jobs (list, cancel).

Closing the connection cancels the command in both forms, so an abandoned request never
keeps a process running.
"""

from __future__ import annotations

import contextlib
import json

import anyio
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from loopsy.daemon.auth import Caller
from loopsy.daemon.endpoints import Call, describe_errors, endpoint, websocket_endpoint
from loopsy.daemon.execute.executor import result_of, status_of
from loopsy.daemon.execute.jobs import Job
from loopsy.daemon.services import Services
from loopsy.protocol.errors import ApiError, BadRequest, ValidationFailed
from loopsy.protocol.execute import (
    ExecRequest,
    ExecResult,
    JobInfo,
    JobList,
    StreamCancel,
    StreamError,
    StreamExit,
    StreamStarted,
    encode_output,
)

MAX_BODY = 4 << 20  # the request carries stdin
REQUEST_WAIT = 30.0  # seconds a stream client has to send its request


@endpoint(
    "POST",
    "/execute",
    summary="Run a command and wait for its result",
    body=ExecRequest,
    response=ExecResult,
    rate="execute",
    max_body=MAX_BODY,
    tags=("execute",),
)
async def execute(call: Call[ExecRequest, None]) -> ExecResult:
    """Runs ``argv`` (or ``shell`` with /bin/sh -c) under the execution policy and returns
    its exit status and output (each stream capped at execution.maxOutput). 403 when the
    policy refuses it, 404 for a missing program or cwd, 503 when execution.maxConcurrent
    commands already run. Closing the connection cancels the command."""
    executor = call.services.execute
    spec = await executor.prepare(call.body, call.caller)

    async def watch(job: Job) -> None:
        # After the body, the next ASGI message is the client going away. (A server that
        # sent anything else, repeatedly, must not make this spin: give up watching.)
        for _ in range(16):
            if (await call.request.receive())["type"] == "http.disconnect":
                job.cancel()
                return

    job, outcome = await executor.run(spec, call.caller, watcher=watch)
    return result_of(job, outcome)


@endpoint(
    "GET",
    "/execute/jobs",
    summary="Running commands",
    response=JobList,
    tags=("execute",),
)
async def list_jobs(call: Call[None, None]) -> JobList:
    """The caller's running commands (every one, for the local user)."""
    jobs = call.services.execute.jobs.visible_to(call.caller)
    return JobList(jobs=[job.info() for job in jobs])


@endpoint(
    "DELETE",
    "/execute/jobs/{job_id}",
    summary="Cancel a running command",
    response=JobInfo,
    tags=("execute",),
)
async def cancel_job(call: Call[None, None]) -> JobInfo:
    """Kills the command's whole process group (SIGTERM, then SIGKILL after a grace
    period); its request then answers with ``cancelled: true``."""
    job = call.services.execute.jobs.get(call.path_param("job_id"), call.caller)
    job.cancel()
    return job.info()


@websocket_endpoint(
    "/execute/stream",
    summary="Run a command, streaming its output (WebSocket)",
    rate="execute",
    tags=("execute",),
)
async def execute_stream(websocket: WebSocket, caller: Caller, services: Services) -> None:
    """Frames in docs/PROTOCOL.md, "Execute stream": the client sends the request; the
    daemon sends ``started``, output frames (binary: 1 stdout / 2 stderr + bytes) and
    ``exit``. ``{"type": "cancel"}`` or closing the socket cancels the command."""
    await websocket.accept()
    client = _StreamClient(websocket)
    try:
        await _stream(websocket, caller, services, client)
    except ApiError as exc:
        # The close reason has room for a short message only: the whole error (with its
        # hint) goes first, as a frame.
        frame = StreamError(status=exc.status, error=exc.to_body()["error"])
        await client.send_text(frame.model_dump_json())
        raise


async def _stream(
    websocket: WebSocket, caller: Caller, services: Services, client: _StreamClient
) -> None:
    request = await _receive_request(websocket)
    if request is None:
        return  # the client left before asking for anything
    executor = services.execute
    spec = await executor.prepare(request, caller)

    async def started(job: Job) -> None:
        pid = job.run.pid if job.run is not None else None
        await client.send_text(StreamStarted(job_id=job.id, pid=pid).model_dump_json())

    async def sink(stream: int, data: bytes) -> None:
        await client.send_bytes(encode_output(stream, data))

    job, outcome = await executor.run(
        spec, caller, sink=sink, on_start=started, watcher=client.watch
    )
    if client.error is not None:
        raise client.error
    if client.gone:
        return
    await client.send_text(StreamExit(**status_of(job, outcome)).model_dump_json())
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code=1000)


async def _receive_request(websocket: WebSocket) -> ExecRequest | None:
    with anyio.move_on_after(REQUEST_WAIT):
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None:
            raise BadRequest("the first frame must be the request as JSON text")
        try:
            return ExecRequest.model_validate_json(text, strict=True)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise BadRequest("the request is not valid JSON") from None
            raise ValidationFailed(f"invalid request: {describe_errors(exc)}") from None
    raise BadRequest(f"no request within {REQUEST_WAIT:.0f} s")


class _StreamClient:
    """The client side of a stream: sends that survive its departure, and a watcher that
    cancels the job when it leaves, asks to cancel, or sends something unexpected."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.gone = False
        self.error: BadRequest | None = None

    async def send_text(self, text: str) -> None:
        if not self.gone:
            try:
                await self.websocket.send_text(text)
            except (RuntimeError, WebSocketDisconnect, OSError):
                self.gone = True

    async def send_bytes(self, data: bytes) -> None:
        if not self.gone:
            try:
                await self.websocket.send_bytes(data)
            except (RuntimeError, WebSocketDisconnect, OSError):
                self.gone = True

    async def watch(self, job: Job) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self.gone = True
                job.cancel()
                return
            if _is_cancel(message.get("text")):
                job.cancel()
                continue
            self.error = BadRequest('unexpected frame: only {"type": "cancel"} may follow')
            job.cancel()
            return


def _is_cancel(text: str | None) -> bool:
    if text is None:
        return False
    try:
        StreamCancel.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        return False
    return True


routes = [execute, list_jobs, cancel_job, execute_stream]
