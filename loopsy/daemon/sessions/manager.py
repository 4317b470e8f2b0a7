"""The daemon's sessions service: create, list, rename, resize, signal, kill, restart and
remove sessions; each one is a holder process (see :mod:`.holder`), and this is their
registry (SQLite) and remote control (:class:`.link.HolderLink`).

Supervision — re-adopting holders at start-up, noticing exits and dead holders — is in
:mod:`.supervisor`; the WebSocket attach is in :mod:`.attach`.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import re
import secrets
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from loopsy.daemon.agents import AgentRegistry, Launch
from loopsy.daemon.approvals import Approvals
from loopsy.daemon.audit import AuditLog
from loopsy.daemon.events import EventBus
from loopsy.daemon.sessions.holder_spec import SOCKET_NAME, HolderSpec
from loopsy.daemon.sessions.link import HolderGone, HolderLink
from loopsy.daemon.sessions.spawner import Spawner
from loopsy.daemon.sessions.supervisor import Supervisor
from loopsy.daemon.sessions.table import SessionRow, SessionTable
from loopsy.daemon.store import Store
from loopsy.home import MAX_SOCKET_PATH, LoopsyHome
from loopsy.protocol import stream
from loopsy.protocol.approvals import Approval
from loopsy.protocol.errors import Conflict, NotFound, ValidationFailed
from loopsy.protocol.sessions import (
    ScreenText,
    SessionCreate,
    SessionExit,
    SessionInfo,
    SessionOutput,
)

if TYPE_CHECKING:
    from loopsy.daemon.services import ConfigStore

ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
EXIT_REASONS = {stream.EXITED: "exited", stream.SIGNALLED: "signalled", stream.LOST: "lost"}


class SessionManager:
    def __init__(
        self,
        home: LoopsyHome,
        config: ConfigStore,
        store: Store,
        events: EventBus,
        audit: AuditLog,
        agents: AgentRegistry,
        approvals: Approvals,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = home
        self.config = config
        self.table = SessionTable(store)
        self.events = events
        self.audit = audit
        self.agents = agents
        self.approvals = approvals
        self.clock = clock
        self.spawner = Spawner(home.logs_dir / "zygote.log")
        self.links: dict[str, HolderLink] = {}
        self.attached: defaultdict[str, int] = defaultdict(int)
        self.exits: dict[str, anyio.Event] = {}
        self.supervisor = Supervisor(self)
        self._naming = anyio.Lock()
        approvals.register("auto_approve", self._approval_decided)

    async def run(self) -> None:
        """Background: re-adopt holders, then watch them until the daemon stops."""
        await self.supervisor.run()

    # -- reading ---------------------------------------------------------------------------

    def find(self, ref: str) -> SessionRow:
        """A session by id, else by name."""
        row = self.table.get(ref) or self.table.by_name(ref)
        if row is None:
            raise NotFound(f"no session {ref!r}", hint="`loopsy session list` shows them")
        return row

    def info(self, row: SessionRow) -> SessionInfo:
        exit_info = None
        if row.state == "exited":
            signal_name = None
            if row.exit_signal is not None:
                signal_name = _signal_name(row.exit_signal)
            exit_info = SessionExit(
                reason=row.exit_reason or "lost",
                code=row.exit_code,
                signal=signal_name,
                ended=row.ended,
            )
        return SessionInfo(
            id=row.id,
            name=row.name,
            agent=row.agent,
            argv=row.argv,
            cwd=row.cwd,
            pid=row.child_pid if row.state == "running" else None,
            holder_pid=row.holder_pid if row.state == "running" else None,
            cols=row.cols,
            rows=row.rows,
            created=row.created,
            started=row.started,
            state="running" if row.state == "starting" else row.state,
            exit=exit_info,
            attached=self.attached.get(row.id, 0),
            auto_approve=row.auto_approve,
            approval_id=row.approval_id if row.auto_approve == "pending" else None,
            recording=row.record,
            env_keys=sorted(row.env),
        )

    def all(self) -> list[SessionInfo]:
        return [self.info(row) for row in self.table.all()]

    # -- creating and starting -------------------------------------------------------------

    async def create(self, request: SessionCreate, caller: str) -> SessionInfo:
        await self.supervisor.ready()
        if request.argv and request.agent:
            raise ValidationFailed("give either agent or argv, not both")
        if request.argv:
            launch = Launch(None, [*request.argv, *request.args], None, None)
        else:
            launch = await self.agents.launch(request.agent, request.args)
        if request.auto_approve and launch.approve_flag is None:
            raise ValidationFailed(
                f"{launch.agent or launch.argv[0]} has no auto-approve mode",
                hint="only claude, codex, gemini and cursor-agent have one",
            )
        cwd = _resolve_cwd(request.cwd or launch.cwd)
        record = self.config.current.sessions.record if request.record is None else request.record
        async with self._naming:
            name = request.name or self._next_name(launch.agent or Path(launch.argv[0]).name)
            if self.table.by_name(name) is not None:
                raise Conflict(f"a session named {name!r} exists", hint="choose another name")
            row = SessionRow(
                id=self._new_id(),
                name=name,
                agent=launch.agent,
                argv=launch.argv,
                cwd=cwd,
                env=dict(request.env),
                cols=request.cols,
                rows=request.rows,
                record=record,
                auto_approve="pending" if request.auto_approve else "off",
                approval_id=None,
                state="pending" if request.auto_approve else "starting",
                holder_pid=None,
                child_pid=None,
                created=self.clock(),
                started=None,
                ended=None,
                exit_reason=None,
                exit_code=None,
                exit_signal=None,
                start_offset=0,
                end_offset=None,
                created_by=caller,
            )
            self.table.insert(row)
        if request.auto_approve:
            summary = (
                f"{caller} asks to run {' '.join(launch.with_approval(True))} "
                f"(session {name}, in {cwd}) without its permission prompts"
            )
            approval = await self.approvals.request("auto_approve", row.id, summary, caller)
            row.approval_id = approval.id
            self.table.save(row)
        else:
            try:
                await self._start(row)
            except BaseException:
                self.table.delete(row.id)
                shutil.rmtree(self.home.session_dir(row.id), ignore_errors=True)
                raise
        self.audit.event(
            caller,
            "session.created",
            id=row.id,
            name=row.name,
            agent=row.agent,
            auto_approve=request.auto_approve,
        )
        self.publish("session.created", row)
        return self.info(row)

    async def _start(self, row: SessionRow) -> None:
        directory = self.home.session_dir(row.id)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        if len(os.fsencode(directory / SOCKET_NAME)) > MAX_SOCKET_PATH:
            raise ValidationFailed(
                "LOOPSY_HOME is too deep for a session socket",
                hint="set LOOPSY_HOME to a shorter path",
            )
        settings = self.config.current.sessions
        spec = HolderSpec(
            id=row.id,
            directory=directory,
            argv=row.argv,
            cwd=row.cwd,
            env=self._env(row),
            cols=row.cols,
            rows=row.rows,
            name=row.name,
            ring_bytes=settings.ring_bytes,
            scrollback=settings.scrollback,
            high=settings.high_water,
            low=settings.low_water,
            debounce=settings.resize_debounce_ms / 1000,
            record=row.record,
            record_max=settings.record_max_bytes,
            start_offset=row.start_offset,
        )
        result = await self.spawner.spawn(spec)
        row.state = "running"
        row.holder_pid, row.child_pid = result["pid"], result["child_pid"]
        row.started = self.clock()
        row.ended = row.exit_reason = row.exit_code = row.exit_signal = row.end_offset = None
        self.table.save(row)
        self.exits[row.id] = anyio.Event()
        await self.supervisor.adopt(row)

    def _env(self, row: SessionRow) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TERM="xterm-256color",
            COLORTERM="truecolor",
            LOOPSY_SESSION=row.id,
            LOOPSY_SESSION_NAME=row.name,
        )
        env.update(row.env)
        return env

    def _new_id(self) -> str:
        for _ in range(100):
            candidate = "".join(secrets.choice(ID_ALPHABET) for _ in range(8))
            if self.table.get(candidate) is None:
                return candidate
        raise RuntimeError("could not draw an unused session id")

    def _next_name(self, base: str) -> str:
        base = re.sub(r"[^A-Za-z0-9._-]", "-", base).strip("-._")[:50] or "session"
        taken = self.table.names()
        return next(f"{base}-{n}" for n in range(1, len(taken) + 2) if f"{base}-{n}" not in taken)

    async def _approval_decided(self, approval: Approval) -> None:
        row = self.table.get(approval.subject)
        if row is None or row.state != "pending":
            return
        if approval.state == "allowed":
            launch = await self.agents.launch(row.agent, [])
            if launch.approve_flag and launch.approve_flag not in row.argv:
                row.argv = [row.argv[0], launch.approve_flag, *row.argv[1:]]
            row.auto_approve = "on"
            self.table.save(row)
            try:
                await self._start(row)
            except Exception as exc:
                self._mark_exited(row, "lost", None, None, None)
                self.events.publish("sessions", "session.failed", {"id": row.id, "error": str(exc)})
                return
            self.publish("session.started", row)
        else:
            row.auto_approve = "denied"
            self._mark_exited(
                row, "denied" if approval.state == "denied" else "expired", None, None, None
            )

    # -- exits -----------------------------------------------------------------------------

    def record_exit(
        self, session_id: str, kind: int, value: int, offset: int | None, ended: float | None
    ) -> None:
        row = self.table.get(session_id)
        if row is None or row.state == "exited":
            return
        code = value if kind == stream.EXITED else None
        signum = value if kind == stream.SIGNALLED else None
        self._mark_exited(row, EXIT_REASONS.get(kind, "lost"), code, signum, offset, ended)

    def _mark_exited(
        self,
        row: SessionRow,
        reason: str,
        code: int | None,
        signum: int | None,
        offset: int | None,
        ended: float | None = None,
    ) -> None:
        row.state = "exited"
        row.exit_reason, row.exit_code, row.exit_signal = reason, code, signum
        row.ended = ended or self.clock()
        if offset is not None:
            row.end_offset = offset
        self.table.save(row)
        event = self.exits.get(row.id)
        if event is not None:
            event.set()
        self.publish("session.exited", row)

    def publish(self, kind: str, row: SessionRow) -> None:
        self.events.publish("sessions", kind, self.info(row).model_dump(mode="json"))

    # -- control ---------------------------------------------------------------------------

    def link(self, row: SessionRow, action: str) -> HolderLink:
        if row.state == "pending":
            raise Conflict(
                f"session {row.name} waits for approval; cannot {action}",
                hint="`loopsy approvals list` shows what waits",
            )
        link = self.links.get(row.id)
        if link is None or row.state != "running":
            raise Conflict(
                f"session {row.name} has exited; cannot {action}",
                hint="`loopsy session restart` runs it again",
            )
        return link

    def rename(self, ref: str, name: str, caller: str) -> SessionInfo:
        row = self.find(ref)
        other = self.table.by_name(name)
        if other is not None and other.id != row.id:
            raise Conflict(f"a session named {name!r} exists", hint="choose another name")
        row.name = name
        self.table.save(row)
        self.audit.event(caller, "session.renamed", id=row.id, name=name)
        self.publish("session.updated", row)
        return self.info(row)

    async def resize(self, ref: str, cols: int, rows: int) -> SessionInfo:
        row = self.find(ref)
        await self.link(row, "resize").request("resize", cols=cols, rows=rows)
        return self.info(row)

    def resized(self, session_id: str, cols: int, rows: int) -> None:
        row = self.table.get(session_id)
        if row is not None and (row.cols, row.rows) != (cols, rows):
            row.cols, row.rows = cols, rows
            self.table.save(row)
            self.publish("session.resized", row)

    async def signal(self, ref: str, name: str) -> SessionInfo:
        row = self.find(ref)
        await self.link(row, "signal it").request("signal", name=name)
        return self.info(row)

    async def send_input(self, ref: str, data: bytes) -> None:
        row = self.find(ref)
        encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
        await self.link(row, "send input").request("input", data=encoded)

    async def kill(self, ref: str, grace: float, caller: str) -> SessionInfo:
        row = self.find(ref)
        if row.state == "pending":
            await self.approvals.cancel(row.id, caller)
            row.auto_approve = "denied"
            self._mark_exited(row, "denied", None, None, None)
        elif row.state == "running":
            await self._kill_and_wait(row, grace)
        self.audit.event(caller, "session.killed", id=row.id)
        return self.info(self.find(row.id))

    async def _kill_and_wait(self, row: SessionRow, grace: float) -> None:
        link = self.links.get(row.id)
        exited = self.exits.setdefault(row.id, anyio.Event())
        if link is not None:
            with contextlib.suppress(HolderGone, Conflict):
                await link.request("kill", grace=grace)
        with anyio.move_on_after(grace + 10):
            await exited.wait()

    async def restart(self, ref: str, caller: str) -> SessionInfo:
        row = self.find(ref)
        if row.state == "pending":
            raise Conflict(f"session {row.name} waits for approval")
        if row.state == "running":
            await self._kill_and_wait(row, 3.0)
        row = self.find(row.id)
        await self.supervisor.retire(row)
        row.start_offset = max(row.start_offset, row.end_offset or 0)
        await self._start(row)
        self.audit.event(caller, "session.restarted", id=row.id)
        self.publish("session.restarted", row)
        return self.info(row)

    async def remove(self, ref: str, force: bool, caller: str) -> None:
        row = self.find(ref)
        if row.state == "running":
            if not force:
                raise Conflict(
                    f"session {row.name} is running", hint="kill it first, or remove with --force"
                )
            await self._kill_and_wait(row, 1.0)
        await self.supervisor.retire(row)
        await self.approvals.cancel(row.id, caller)
        shutil.rmtree(self.home.session_dir(row.id), ignore_errors=True)
        self.table.delete(row.id)
        self.exits.pop(row.id, None)
        self.audit.event(caller, "session.removed", id=row.id, name=row.name)
        self.events.publish("sessions", "session.removed", {"id": row.id, "name": row.name})

    # -- reading output and screen ---------------------------------------------------------

    async def read(self, ref: str, since: int, limit: int, wait: float) -> SessionOutput:
        row = self.find(ref)
        link = self.links.get(row.id)
        if link is None:
            end = row.end_offset or row.start_offset
            return SessionOutput(
                offset=max(since, end), next=max(since, end), gap=since < end, exited=True, data=""
            )
        reply = await link.request("read", limit=wait + 10, since=since, max=limit, wait=wait)
        data = binascii.a2b_base64(reply["data"])
        cut = _complete_utf8(data) if not reply["exited"] else len(data)
        return SessionOutput(
            offset=reply["offset"],
            next=reply["offset"] + cut,
            gap=reply["gap"],
            exited=reply["exited"] and cut == len(data),
            data=data[:cut].decode("utf-8", "replace"),
        )

    async def screen(self, ref: str) -> ScreenText:
        row = self.find(ref)
        link = self.links.get(row.id)
        if link is None:
            raise Conflict(f"session {row.name} has no screen any more (its holder is gone)")
        reply: dict[str, Any] = await link.request("screen")
        return ScreenText.model_validate(reply)

    @contextlib.contextmanager
    def attaching(self, session_id: str) -> Iterator[None]:
        self.attached[session_id] += 1
        self._attach_changed(session_id)
        try:
            yield
        finally:
            self.attached[session_id] -= 1
            if self.attached[session_id] <= 0:
                del self.attached[session_id]
            self._attach_changed(session_id)

    def _attach_changed(self, session_id: str) -> None:
        """A client attached or left: lists of sessions show how many are attached."""
        row = self.table.get(session_id)
        if row is not None:
            self.publish("session.updated", row)


def _resolve_cwd(cwd: str | None) -> str:
    path = Path(os.path.expanduser(cwd)) if cwd else Path.home()
    path = path.absolute()
    if not path.is_dir():
        raise ValidationFailed(
            f"working directory {path} does not exist", hint="pass an existing directory as cwd"
        )
    return str(path)


def _complete_utf8(data: bytes) -> int:
    """Length of ``data`` without a trailing incomplete UTF-8 sequence."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)


def _signal_name(signum: int) -> str:
    import signal

    try:
        return signal.Signals(signum).name.removeprefix("SIG")
    except ValueError:
        return str(signum)
