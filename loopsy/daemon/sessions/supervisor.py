"""Supervision of the holders: a control link per live holder that carries its events
(exit, resize), re-adoption of running holders when the daemon starts, and the verdict
when a holder disappears (SIGKILL, crash): the session is *exited*, never a hang.

A holder is gone when its socket closes and its pid is no longer a live process; its
``meta.json`` then tells how the program ended if the holder wrote that before dying,
otherwise the exit is recorded as ``lost``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from loopsy.daemon.sessions.holder_spec import SOCKET_NAME, read_meta
from loopsy.daemon.sessions.link import HolderGone, HolderLink
from loopsy.daemon.sessions.table import SessionRow
from loopsy.protocol import stream

if TYPE_CHECKING:
    from loopsy.daemon.sessions.manager import SessionManager

log = logging.getLogger("loopsy.daemon")

READY_TIMEOUT = 30.0


class Supervisor:
    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self._tg: TaskGroup | None = None
        self._ready = anyio.Event()
        self._retiring: set[str] = set()

    async def ready(self) -> None:
        with anyio.fail_after(READY_TIMEOUT):
            await self._ready.wait()

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await self.reconcile()
                self._ready.set()
                await anyio.sleep_forever()
        finally:
            self._tg = None
            for link in list(self.manager.links.values()):
                link.close()
            self.manager.links.clear()
            with anyio.CancelScope(shield=True):
                await self.manager.spawner.aclose()

    # -- start-up --------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Re-adopt the holders that outlived the previous daemon; settle the others."""
        manager = self.manager
        known = set()
        for row in manager.table.all():
            known.add(row.id)
            if row.state in ("running", "starting") or (
                row.state == "exited" and self._socket(row.id).exists()
            ):
                try:
                    await self.adopt(row)
                except HolderGone:
                    if row.state != "exited":
                        self.settle(row)
        sessions_dir = manager.home.sessions_dir
        if sessions_dir.is_dir():
            for directory in sessions_dir.iterdir():
                if directory.name not in known and directory.is_dir():
                    await self._orphan(directory)

    async def _orphan(self, directory: Path) -> None:
        """A session folder with no row (the daemon died mid-create): adopt or clear it."""
        meta = read_meta(directory)
        if meta is not None and (directory / SOCKET_NAME).exists():
            row = SessionRow(
                id=directory.name,
                name=f"recovered-{directory.name}",
                agent=None,
                argv=list(meta.get("argv") or ["?"]),
                cwd=str(meta.get("cwd") or "/"),
                env={},
                cols=int(meta.get("cols", 80)),
                rows=int(meta.get("rows", 24)),
                record=False,
                auto_approve="off",
                approval_id=None,
                state="running",
                holder_pid=meta.get("holder_pid"),
                child_pid=meta.get("child_pid"),
                created=self.manager.clock(),
                started=None,
                ended=None,
                exit_reason=None,
                exit_code=None,
                exit_signal=None,
                start_offset=int(meta.get("start_offset", 0)),
                end_offset=None,
                created_by="recovered",
            )
            try:
                link = await HolderLink.open(directory / SOCKET_NAME)
            except HolderGone:
                link = None
            if link is not None:
                link.close()
                self.manager.table.insert(row)
                await self.adopt(row)
                return
        shutil.rmtree(directory, ignore_errors=True)

    # -- links -----------------------------------------------------------------------------

    def _socket(self, session_id: str) -> Path:
        return self.manager.home.session_dir(session_id) / SOCKET_NAME

    async def adopt(self, row: SessionRow) -> None:
        """Open the control link to ``row``'s holder, watch it, and sync the row."""
        assert self._tg is not None, "the sessions supervisor is not running"
        link = await HolderLink.open(self._socket(row.id))
        link.on_event = lambda event: self._event(row.id, event)
        self._tg.start_soon(self._serve, row.id, link)
        try:
            info: dict[str, Any] = await link.request("watch")
        except HolderGone:
            link.close()
            raise
        self.manager.links[row.id] = link
        self.manager.exits.setdefault(row.id, anyio.Event())
        if (info["cols"], info["rows"]) != (row.cols, row.rows) or row.holder_pid != info["pid"]:
            row.cols, row.rows = info["cols"], info["rows"]
            row.holder_pid, row.child_pid = info["pid"], info["child_pid"]
            self.manager.table.save(row)
        if row.state == "starting":
            row.state = "running"
            self.manager.table.save(row)
        exited = info.get("exit")
        if exited is not None:
            self.manager.record_exit(
                row.id, exited["kind"], exited["value"], exited["offset"], exited.get("ended")
            )

    async def _serve(self, session_id: str, link: HolderLink) -> None:
        await link.serve()
        current = self.manager.links.get(session_id) is link
        if current:
            del self.manager.links[session_id]
        if not current or session_id in self._retiring:
            return  # replaced (restart) or retired on purpose
        row = self.manager.table.get(session_id)
        if row is not None and row.state in ("running", "starting"):
            self.settle(row)

    def _event(self, session_id: str, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "exit":
            self.manager.record_exit(
                session_id,
                int(event["kind"]),
                int(event["value"]),
                event.get("offset"),
                event.get("ended"),
            )
        elif kind == "resized":
            self.manager.resized(session_id, int(event["cols"]), int(event["rows"]))

    def settle(self, row: SessionRow) -> None:
        """The holder is unreachable: decide how the session ended."""
        if row.holder_pid is not None and holder_alive(row.holder_pid):
            # Alive but not answering (a wedged holder): end it so the user is not stuck.
            with contextlib.suppress(OSError):
                os.kill(row.holder_pid, signal.SIGKILL)
        meta = read_meta(self.manager.home.session_dir(row.id))
        exited = meta.get("exit") if meta else None
        if isinstance(exited, dict) and meta and meta.get("holder_pid") == row.holder_pid:
            self.manager.record_exit(
                row.id,
                int(exited["kind"]),
                int(exited["value"]),
                exited.get("offset"),
                exited.get("ended"),
            )
        else:
            self.manager.record_exit(row.id, stream.LOST, 0, None, None)

    async def retire(self, row: SessionRow) -> None:
        """Stop ``row``'s holder for good (before a restart or removal)."""
        self._retiring.add(row.id)
        try:
            link = self.manager.links.pop(row.id, None)
            if link is not None:
                with contextlib.suppress(HolderGone):
                    await link.request("shutdown", limit=15)
                link.close()
            elif row.holder_pid and holder_alive(row.holder_pid):
                with contextlib.suppress(OSError):
                    os.kill(row.holder_pid, signal.SIGKILL)
        finally:
            self._retiring.discard(row.id)
        self._socket(row.id).unlink(missing_ok=True)


def holder_alive(pid: int) -> bool:
    """Is ``pid`` a live (not zombie) holder process of ours?"""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return not os.path.isdir("/proc")  # no procfs (macOS): trust kill(0)
    return state not in (b"Z", b"X") and b"loopsy" in cmdline
