"""``/sessions``: PTY sessions (see :mod:`loopsy.daemon.sessions`) and their WebSocket
attach, which carries the binary session stream (docs/PROTOCOL.md, "Session stream")."""

from __future__ import annotations

from starlette.websockets import WebSocket

from loopsy.daemon.auth import Caller
from loopsy.daemon.endpoints import Call, endpoint, websocket_endpoint
from loopsy.daemon.services import Services
from loopsy.daemon.sessions.manager import SessionManager
from loopsy.protocol.models import RequestModel
from loopsy.protocol.sessions import (
    OutputQuery,
    ScreenText,
    SessionCreate,
    SessionInfo,
    SessionInput,
    SessionKill,
    SessionList,
    SessionOutput,
    SessionRename,
    SessionResize,
    SessionSignal,
)

TAGS = ("sessions",)


class RemoveQuery(RequestModel):
    force: bool = False


def manager_of(services: Services) -> SessionManager:
    manager = services.sessions
    assert manager is not None, "sessions are not set up"
    return manager


@endpoint("GET", "/sessions", summary="List sessions", response=SessionList, tags=TAGS)
async def list_sessions(call: Call[None, None]) -> SessionList:
    """Every session, running or exited, oldest first; exited ones stay until removed."""
    return SessionList(sessions=manager_of(call.services).all())


@endpoint(
    "POST",
    "/sessions",
    summary="Start a session",
    body=SessionCreate,
    response=SessionInfo,
    status=201,
    rate="sessions",
    tags=TAGS,
)
async def create_session(call: Call[SessionCreate, None]) -> SessionInfo:
    """Run an agent from the registry, or any argv, on a new PTY. With ``auto_approve`` the
    session waits in state ``pending`` until someone at the machine allows it."""
    return await manager_of(call.services).create(call.body, str(call.caller))


@endpoint("GET", "/sessions/{session}", summary="One session", response=SessionInfo, tags=TAGS)
async def get_session(call: Call[None, None]) -> SessionInfo:
    """By id or by name."""
    manager = manager_of(call.services)
    return manager.info(manager.find(call.path_param("session")))


@endpoint(
    "PATCH",
    "/sessions/{session}",
    summary="Rename a session",
    body=SessionRename,
    response=SessionInfo,
    tags=TAGS,
)
async def rename_session(call: Call[SessionRename, None]) -> SessionInfo:
    """Names are unique."""
    manager = manager_of(call.services)
    return manager.rename(call.path_param("session"), call.body.name, str(call.caller))


@endpoint(
    "POST",
    "/sessions/{session}/resize",
    summary="Resize the PTY",
    body=SessionResize,
    response=SessionInfo,
    tags=TAGS,
)
async def resize_session(call: Call[SessionResize, None]) -> SessionInfo:
    """Debounced like the stream's RESIZE: a storm of sizes applies the newest."""
    return await manager_of(call.services).resize(
        call.path_param("session"), call.body.cols, call.body.rows
    )


@endpoint(
    "POST",
    "/sessions/{session}/signal",
    summary="Send a signal",
    body=SessionSignal,
    response=SessionInfo,
    tags=TAGS,
)
async def signal_session(call: Call[SessionSignal, None]) -> SessionInfo:
    """To the PTY's foreground process group, as the terminal's keys would (INT = Ctrl-C)."""
    return await manager_of(call.services).signal(call.path_param("session"), call.body.name)


@endpoint(
    "POST",
    "/sessions/{session}/kill",
    summary="End the program",
    body=SessionKill,
    response=SessionInfo,
    tags=TAGS,
)
async def kill_session(call: Call[SessionKill, None]) -> SessionInfo:
    """SIGHUP (as when a terminal closes), then SIGKILL after ``grace`` seconds. Answers
    once the exit is recorded; the session stays listed until removed."""
    return await manager_of(call.services).kill(
        call.path_param("session"), call.body.grace, str(call.caller)
    )


@endpoint(
    "POST",
    "/sessions/{session}/restart",
    summary="Run the same argv again",
    response=SessionInfo,
    rate="sessions",
    tags=TAGS,
)
async def restart_session(call: Call[None, None]) -> SessionInfo:
    """Kills the program if it runs, then starts the same argv, cwd and env. Output offsets
    continue from where they ended, so attached clients resume with a snapshot."""
    return await manager_of(call.services).restart(call.path_param("session"), str(call.caller))


@endpoint(
    "DELETE",
    "/sessions/{session}",
    summary="Remove a session",
    query=RemoveQuery,
    status=204,
    tags=TAGS,
)
async def remove_session(call: Call[None, RemoveQuery]) -> None:
    """Removes an exited session (its folder and recording too); ``force=true`` kills a
    running one first."""
    await manager_of(call.services).remove(
        call.path_param("session"), call.query.force, str(call.caller)
    )


@endpoint(
    "POST",
    "/sessions/{session}/input",
    summary="Type into a session",
    body=SessionInput,
    status=204,
    tags=TAGS,
)
async def input_session(call: Call[SessionInput, None]) -> None:
    """For scripts and agents; interactive clients send INPUT frames on the attach."""
    await manager_of(call.services).send_input(
        call.path_param("session"), call.body.data.encode("utf-8")
    )


@endpoint(
    "GET",
    "/sessions/{session}/output",
    summary="Read output since an offset",
    query=OutputQuery,
    response=SessionOutput,
    tags=TAGS,
)
async def read_output(call: Call[None, OutputQuery]) -> SessionOutput:
    """Output bytes from ``since`` (UTF-8 text), waiting up to ``wait`` seconds for some.
    Pass ``next`` back as ``since``; ``gap`` says bytes were no longer kept."""
    q = call.query
    return await manager_of(call.services).read(call.path_param("session"), q.since, q.max, q.wait)


@endpoint(
    "GET",
    "/sessions/{session}/screen",
    summary="The screen as text",
    response=ScreenText,
    tags=TAGS,
)
async def read_screen(call: Call[None, None]) -> ScreenText:
    """What a terminal shows now: the visible lines, cursor, and whether the alternate
    screen (vim, less, agents' full-screen UIs) is on."""
    return await manager_of(call.services).screen(call.path_param("session"))


@websocket_endpoint("/sessions/{session}/attach", summary="Attach: the session stream", tags=TAGS)
async def attach_session(websocket: WebSocket, caller: Caller, services: Services) -> None:
    """Binary frames both ways; the client's first frame is ATTACH with the offset it
    holds. See docs/PROTOCOL.md, "Session stream"."""
    from loopsy.daemon.sessions.attach import bridge

    await bridge(websocket, manager_of(services), websocket.path_params["session"])


routes = [
    list_sessions,
    create_session,
    get_session,
    rename_session,
    resize_session,
    signal_session,
    kill_session,
    restart_session,
    remove_session,
    input_session,
    read_output,
    read_screen,
    attach_session,
]
