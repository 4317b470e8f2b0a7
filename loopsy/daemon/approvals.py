"""Approvals: a request that waits for a person at the machine (``loopsy approvals allow``,
the TUI, or the macOS dialog), never for a password sent over the network.

A component asks with :meth:`Approvals.request`; it is stored (SQLite), published on the
event bus (``approvals`` topic), audited, and shown as a desktop notification. Only local
callers may allow or deny (the routes declare ``callers=("local",)``). The component's
handler for that kind runs on the decision, and on expiry (``sessions.approvalTtl``).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

from loopsy.daemon.audit import AuditLog
from loopsy.daemon.events import EventBus
from loopsy.daemon.notify import notify
from loopsy.daemon.store import Store
from loopsy.protocol.approvals import Approval
from loopsy.protocol.errors import Conflict, NotFound

log = logging.getLogger("loopsy.daemon")

MIGRATIONS = [
    """
    CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        summary TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL NOT NULL,
        state TEXT NOT NULL,
        decided_by TEXT,
        decided_at REAL
    );
    CREATE INDEX approvals_state ON approvals (state)
    """,
]

Handler = Callable[[Approval], Awaitable[None]]
KEEP_DECIDED = 200  # decided approvals kept for the record


class Approvals:
    def __init__(
        self,
        store: Store,
        events: EventBus,
        audit: AuditLog,
        ttl: Callable[[], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.events = events
        self.audit = audit
        self.ttl = ttl
        self.clock = clock
        self._handlers: dict[str, Handler] = {}
        self._tg: TaskGroup | None = None
        self._changed = anyio.Event()
        store.migrate("approvals", MIGRATIONS)

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    # -- background: expiry and notifications ----------------------------------------------

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            while True:
                await self.expire_due()
                pending = self.select("pending")
                wait = min((a.expires for a in pending), default=self.clock() + 60) - self.clock()
                self._changed = anyio.Event()
                with anyio.move_on_after(max(0.05, min(wait, 60.0))):
                    await self._changed.wait()

    # -- the API -------------------------------------------------------------------------------

    async def request(self, kind: str, subject: str, summary: str, requested_by: str) -> Approval:
        now = self.clock()
        approval = Approval(
            id=secrets.token_hex(4),
            kind=kind,
            subject=subject,
            summary=summary,
            requested_by=requested_by,
            created=now,
            expires=now + self.ttl(),
            state="pending",
        )
        self.store.execute(
            "INSERT INTO approvals (id, kind, subject, summary, requested_by, created, expires,"
            " state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (approval.id, kind, subject, summary, requested_by, now, approval.expires, "pending"),
        )
        self.audit.event(
            requested_by, "approval.requested", id=approval.id, kind=kind, subject=subject
        )
        self.events.publish("approvals", "approval.requested", approval.model_dump(mode="json"))
        self._changed.set()
        if self._tg is not None:
            self._tg.start_soon(self._notify, approval)
        return approval

    def select(self, state: str | None = None) -> list[Approval]:
        if state is None:
            rows = self.store.all("SELECT * FROM approvals ORDER BY created DESC, id")
        else:
            rows = self.store.all(
                "SELECT * FROM approvals WHERE state = ? ORDER BY created DESC, id", (state,)
            )
        return [Approval.model_validate(dict(r)) for r in rows]

    def get(self, approval_id: str) -> Approval:
        row = self.store.one("SELECT * FROM approvals WHERE id = ?", (approval_id,))
        if row is None:
            raise NotFound(
                f"no approval {approval_id!r}",
                hint="`loopsy approvals list` shows the pending ones",
            )
        return Approval.model_validate(dict(row))

    async def decide(self, approval_id: str, allow: bool, caller: str) -> Approval:
        await self.expire_due()
        approval = self.get(approval_id)
        if approval.state != "pending":
            raise Conflict(f"approval {approval_id} is already {approval.state}")
        return await self._settle(approval, "allowed" if allow else "denied", caller)

    async def cancel(self, subject: str, caller: str) -> None:
        """Withdraw pending approvals about ``subject`` (its session was removed)."""
        for approval in self.select("pending"):
            if approval.subject == subject:
                await self._settle(approval, "cancelled", caller, run_handler=False)

    async def expire_due(self) -> None:
        now = self.clock()
        for approval in self.select("pending"):
            if approval.expires <= now:
                await self._settle(approval, "expired", "system")

    async def _settle(
        self, approval: Approval, state: str, caller: str, run_handler: bool = True
    ) -> Approval:
        now = self.clock()
        self.store.execute(
            "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ? "
            "WHERE id = ? AND state = 'pending'",
            (state, caller, now, approval.id),
        )
        decided = approval.model_copy(
            update={"state": state, "decided_by": caller, "decided_at": now}
        )
        self.audit.event(
            caller,
            f"approval.{state}",
            id=approval.id,
            kind=approval.kind,
            subject=approval.subject,
        )
        self.events.publish("approvals", "approval.decided", decided.model_dump(mode="json"))
        self._prune()
        handler = self._handlers.get(approval.kind)
        if run_handler and handler is not None:
            try:
                await handler(decided)
            except Exception:
                log.exception("approval handler for %s failed", approval.kind)
        return decided

    def _prune(self) -> None:
        self.store.execute(
            "DELETE FROM approvals WHERE state != 'pending' AND id NOT IN (SELECT id FROM "
            "approvals WHERE state != 'pending' ORDER BY decided_at DESC LIMIT ?)",
            (KEEP_DECIDED,),
        )

    async def _notify(self, approval: Approval) -> None:
        title = "Loopsy: approval needed"
        body = f"{approval.summary}\nAllow with: loopsy approvals allow {approval.id}"
        try:
            answer = await notify(title, body)
        except Exception:
            log.exception("desktop notification failed")
            return
        if answer is not None:  # the macOS dialog was answered at the machine itself
            with contextlib.suppress(Conflict):
                await self.decide(approval.id, answer, "local:dialog")
