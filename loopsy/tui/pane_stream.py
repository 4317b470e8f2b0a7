"""A pane's session stream: attach, feed every frame into the pane's terminal, send what
the pane queues (typed bytes, resizes, ACKs), and attach again (resuming at the offset
held) when the daemon goes away and comes back.

Run in a worker of the sessions panel; ``painted`` tells the panel the terminal changed
(it posts a coalesced message). Never lets an exception end the app: what went wrong is
shown in the pane.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream

from loopsy.client.attach import Attachment
from loopsy.protocol import stream
from loopsy.protocol.errors import DaemonNotRunning, LoopsyError
from loopsy.tui.pane_terminal import PaneTerminal

# The worker yields to the event loop at least this often while output pours in, so key
# presses are handled while a program floods its pane.
YIELD_EVERY = 0.005
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 3.0, 5.0)

Outgoing = tuple[str, Any]  # ("input", bytes) | ("resize", (cols, rows)) | ("ack", offset)


async def follow(
    client: Any,
    term: PaneTerminal,
    inbox: MemoryObjectReceiveStream[Outgoing],
    painted: Callable[[], object],
) -> None:
    """Until the session exits, the stream fails for good, or the worker is cancelled."""
    attempt = 0
    try:
        while True:
            outcome = await _attached(client, term, inbox, painted)
            if outcome == "ended":
                return
            if outcome == "streamed":
                attempt = 0
            term.reconnecting = True
            painted()
            await anyio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1
    finally:
        inbox.close()


async def _attached(
    client: Any,
    term: PaneTerminal,
    inbox: MemoryObjectReceiveStream[Outgoing],
    painted: Callable[[], object],
) -> str:
    """One attachment: "ended" (exit or a refusal), "streamed" (it ran, then dropped) or
    "unreachable" (no daemon answered)."""
    try:
        async with client.sessions.attach(
            term.session_id, offset=term.offset, cols=term.cols, rows=term.rows, auto_ack=False
        ) as attachment:
            term.error = None
            term.reconnecting = False
            async with anyio.create_task_group() as tg:
                tg.start_soon(_send, attachment, inbox)
                outcome = await _receive(attachment, term, painted)
                tg.cancel_scope.cancel()
            return outcome
    except DaemonNotRunning:
        return "unreachable"
    except LoopsyError as exc:
        term.error = exc.message
        painted()
        return "ended"


async def _receive(
    attachment: Attachment, term: PaneTerminal, painted: Callable[[], object]
) -> str:
    recv = attachment.recv
    started = time.monotonic()
    try:
        while True:
            frame = await recv()
            if frame is None:
                return "streamed"  # closed without an exit: the daemon went away
            if term.apply(frame):
                painted()
            if isinstance(frame, stream.Exit | stream.Error):
                return "ended"
            if time.monotonic() - started > YIELD_EVERY:
                await anyio.lowlevel.checkpoint()  # let key presses and repaints in
                started = time.monotonic()
    except DaemonNotRunning:
        return "streamed"
    except LoopsyError as exc:
        term.error = exc.message
        painted()
        return "ended"


async def _send(attachment: Attachment, inbox: MemoryObjectReceiveStream[Outgoing]) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        async for kind, value in inbox:
            if kind == "input":
                await attachment.send_input(value)
            elif kind == "resize":
                await attachment.resize(*value)
            elif kind == "ack" and value - attachment.tracker.acked >= attachment.tracker.ack_every:
                await attachment.ack(value)  # as often as the daemon asks, not per frame
    except (LoopsyError, ConnectionClosed, OSError):
        pass  # the receiving side sees the stream end and attaches again
