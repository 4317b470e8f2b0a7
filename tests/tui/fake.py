"""A fake of the client's surface that the dashboard uses: fixed data and a fixed clock,
so screenshots are the same on every run; events, audit records and session output are
pushed by the test; what the dashboard sends is recorded."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from loopsy.protocol import stream
from loopsy.protocol.agents import AgentInfo
from loopsy.protocol.approvals import Approval
from loopsy.protocol.audit import AuditRecord
from loopsy.protocol.errors import DaemonNotRunning, NotFound
from loopsy.protocol.messages import AckResult, Envelope, InboxEntry
from loopsy.protocol.peers import PairingStatus, PeerInfo
from loopsy.protocol.phones import PairOffer, PairState, Phone, RelayStatus
from loopsy.protocol.sessions import SessionExit, SessionInfo
from loopsy.protocol.status import Listener, Status

NOW = 1_700_000_000.0


def channel() -> tuple[MemoryObjectSendStream[Any], MemoryObjectReceiveStream[Any]]:
    return anyio.create_memory_object_stream[Any](math.inf)


def session(
    id: str, name: str, *, state: str = "running", agent: str | None = "shell", **kw: Any
) -> SessionInfo:
    return SessionInfo(
        id=id,
        name=name,
        agent=agent,
        argv=kw.pop("argv", ["/bin/bash", "-l"]),
        cwd=kw.pop("cwd", "/home/ada/src/loopsy"),
        pid=4242,
        cols=kw.pop("cols", 80),
        rows=kw.pop("rows", 24),
        created=kw.pop("created", NOW - 3600),
        started=NOW - 3600,
        state=state,  # type: ignore[arg-type]
        **kw,
    )


class FakeAttachment:
    """One attach: the frames the test queued for this session, then what it pushes."""

    def __init__(self, fake: FakeClient, ref: str, cols: int, rows: int) -> None:
        self.fake = fake
        self.ref = ref
        self.cols, self.rows = cols, rows
        self.sent: list[stream.Frame] = []
        self.tracker = SimpleNamespace(acked=0, ack_every=1)
        self.incoming, self._frames = channel()

    async def __aenter__(self) -> FakeAttachment:
        if not self.fake.running:
            raise DaemonNotRunning("no Loopsy daemon answers at /tmp/fake/loopsyd.sock")
        self.fake.attachments.append(self)
        screen = self.fake.screens.get(self.ref, b"")
        self.incoming.send_nowait(stream.Attached(0, len(screen), self.cols, self.rows, 1 << 20, 1))
        self.incoming.send_nowait(stream.Snapshot(len(screen), self.cols, self.rows, screen))
        self.offset = len(screen)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.incoming.close()
        self._frames.close()

    def output(self, data: bytes) -> None:
        """The program writes ``data``."""
        self.incoming.send_nowait(stream.Output(self.offset, data))
        self.offset += len(data)

    async def recv(self) -> stream.Frame | None:
        try:
            return await self._frames.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return None

    async def send_input(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.sent.append(stream.Input(raw))
        self.fake.typed.send_nowait((self.ref, raw))

    async def resize(self, cols: int, rows: int) -> None:
        self.sent.append(stream.Resize(cols, rows))

    async def ack(self, offset: int | None = None) -> None:
        self.tracker.acked = offset or 0
        self.sent.append(stream.Ack(offset or 0))

    @property
    def inputs(self) -> bytes:
        return b"".join(f.data for f in self.sent if isinstance(f, stream.Input))


@dataclass
class FakeClient:
    sessions_data: list[SessionInfo] = field(default_factory=list)
    agents_data: list[AgentInfo] = field(default_factory=list)
    approvals_data: list[Approval] = field(default_factory=list)
    peers_data: list[PeerInfo] = field(default_factory=list)
    phones_data: list[Phone] = field(default_factory=list)
    inbox_data: list[InboxEntry] = field(default_factory=list)
    audit_backlog: list[AuditRecord] = field(default_factory=list)
    relay_data: RelayStatus = field(
        default_factory=lambda: RelayStatus(url=None, connected=False)
    )
    screens: dict[str, bytes] = field(default_factory=dict)
    running: bool = True
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.connection = SimpleNamespace(description="/tmp/fake/loopsyd.sock")
        self.sessions = SimpleNamespace(
            list=self._sessions_list,
            attach=self._attach,
            create=self._create,
            kill=self._record("kill"),
            restart=self._record("restart"),
            remove=self._record("remove"),
        )
        self.agents = SimpleNamespace(list=self._value(lambda: self.agents_data))
        self.approvals = SimpleNamespace(
            list=self._value(lambda: self.approvals_data),
            allow=self._decide("allowed"),
            deny=self._decide("denied"),
        )
        self.peers = SimpleNamespace(
            list=self._peers_list,
            remove=self._record("peer-remove"),
            pairing_listen=self._pairing("listen"),
            pairing_status=self._pairing_status,
            pairing_decide=self._pairing("decide"),
            pairing_cancel=self._pairing("cancel"),
            pairing_connect=self._pairing("connect"),
            pairing_verify=self._pairing("verify"),
        )
        self.phones = SimpleNamespace(
            list=self._value(lambda: self.phones_data),
            pair=self._phone_pair,
            pair_state=self._pair_state,
            revoke=self._record("revoke"),
        )
        self.relay = SimpleNamespace(status=self._value(lambda: self.relay_data))
        self.messages = SimpleNamespace(inbox=self._inbox, ack=self._ack)
        self.events = SimpleNamespace(stream=self._events)
        self.audit = SimpleNamespace(follow=self._follow)
        self.event_in, self._event_out = channel()
        self.audit_in, self._audit_out = channel()
        self.typed, self.typed_out = channel()
        self.pairing_steps: list[PairingStatus] = []
        self.decided = anyio.Event()
        self.pair_states: list[PairState] = []

    def close(self) -> None:
        for end in (self.event_in, self._event_out, self.audit_in, self._audit_out,
                    self.typed, self.typed_out):
            end.close()
        for attachment in self.attachments:
            attachment.close()

    # -- the daemon ----------------------------------------------------------------------

    async def status(self) -> Status:
        if not self.running:
            raise DaemonNotRunning("no Loopsy daemon answers at /tmp/fake/loopsyd.sock")
        return Status(
            version="0.1.0",
            pid=1234,
            node_id="n" * 32,
            node_name="workstation",
            started_at=NOW - 7500,
            uptime=7500,
            listeners=[Listener(kind="tcp", address="127.0.0.1:19532")],
            lan=False,
            home="/home/ada/.loopsy",
        )

    async def _events(self, topics: Any = None) -> AsyncIterator[dict[str, Any]]:
        if not self.running:
            raise DaemonNotRunning("no daemon")
        yield {"seq": 0, "ts": NOW, "topic": "events", "type": "events.subscribed", "data": {}}
        async for event in self._event_out:
            yield event

    def emit(self, topic: str, kind: str, data: dict[str, Any]) -> None:
        self.event_in.send_nowait({"seq": 1, "ts": NOW, "topic": topic, "type": kind, "data": data})

    async def _follow(self, *, backlog: int = 0, **filters: Any) -> AsyncIterator[Any]:
        for record in self.audit_backlog[-backlog:]:
            yield record
        async for record in self._audit_out:
            yield record

    # -- helpers -------------------------------------------------------------------------

    def _value(self, get: Any) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            return list(get()) if isinstance(get(), list) else get()

        return call

    def _record(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, *args))

        return call

    async def _sessions_list(self) -> list[SessionInfo]:
        return list(self.sessions_data)

    def _attach(self, ref: str, *, cols: int = 0, rows: int = 0, **kw: Any) -> FakeAttachment:
        return FakeAttachment(self, ref, cols, rows)

    async def _create(self, agent: str | None = None, **kw: Any) -> SessionInfo:
        self.calls.append(("create", agent, kw))
        info = session("new00001", kw.get("name") or f"{agent or 'cmd'}-1", agent=agent)
        self.sessions_data.append(info)
        return info

    def _decide(self, state: str) -> Any:
        async def call(approval_id: str) -> Approval:
            self.calls.append((state, approval_id))
            for i, approval in enumerate(self.approvals_data):
                if approval.id == approval_id:
                    decided = approval.model_copy(
                        update={"state": state, "decided_by": "local:local", "decided_at": NOW}
                    )
                    self.approvals_data[i] = decided
                    return decided
            raise NotFound(f"no approval {approval_id!r}")

        return call

    async def _peers_list(self, *, refresh: bool = False) -> list[PeerInfo]:
        self.calls.append(("peers", refresh))
        return list(self.peers_data)

    def _pairing(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> PairingStatus:
            self.calls.append((f"pairing-{name}", *args))
            if name == "decide":
                self.decided.set()
            return self.pairing_steps.pop(0) if self.pairing_steps else PairingStatus()

        return call

    async def _pairing_status(self, seen: str = "", wait: float = 0.0) -> PairingStatus:
        """A long poll: once the code is shown it waits for the user's decision."""
        if seen == "code_ready":
            await self.decided.wait()
        if self.pairing_steps:
            return self.pairing_steps.pop(0)
        await anyio.sleep_forever()
        raise AssertionError

    async def _phone_pair(self, ttl: float = 300.0) -> PairOffer:
        return PairOffer(
            pair_id="pair-1",
            url="https://relay.example.net/app#p=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            code="314159",
            expires_at=NOW + ttl,
            ttl=ttl,
        )

    async def _pair_state(self, pair_id: str) -> PairState:
        if self.pair_states:
            return self.pair_states.pop(0)
        return PairState(pair_id=pair_id, state="pending", attempts_left=5)

    async def _inbox(self, *, include_acked: bool = False, limit: int = 100) -> list[InboxEntry]:
        return [m for m in self.inbox_data if include_acked or m.acked_at is None]

    async def _ack(self, msg_id: str) -> AckResult:
        self.calls.append(("ack", msg_id))
        for i, entry in enumerate(self.inbox_data):
            if entry.envelope.id == msg_id:
                self.inbox_data[i] = entry.model_copy(update={"acked_at": NOW})
        return AckResult(id=msg_id, acked_at=NOW, sender_notified=True)


def populated() -> FakeClient:
    """A machine in use: sessions in every state, agents, peers, phones, messages."""
    fake = FakeClient()
    fake.sessions_data = [
        session("a1b2c3d4", "claude-1", agent="claude", argv=["claude"], created=NOW - 7200),
        session("e5f6a7b8", "build", agent=None, argv=["make", "watch"], cwd="/home/ada/src/app"),
        session(
            "c9d0e1f2", "shell-1", state="exited", exit=SessionExit(reason="exited", code=0),
            created=NOW - 600,
        ),
        session(
            "b3c4d5e6", "codex-1", state="pending", agent="codex", auto_approve="pending",
            approval_id="ap000001", created=NOW - 60,
        ),
    ]
    fake.agents_data = [
        AgentInfo(name="shell", label="Shell", kind="builtin", argv=["/bin/bash", "-l"],
                  detected=True, path="/bin/bash", detection="$SHELL"),
        AgentInfo(name="claude", label="Claude Code", kind="builtin", argv=["claude"],
                  detected=True, path="/usr/local/bin/claude", version="2.1.0 (Claude Code)",
                  detection="on PATH", auto_approve_flag="--dangerously-skip-permissions"),
        AgentInfo(name="codex", label="Codex", kind="builtin", argv=["codex"], detected=False,
                  detection="codex is not on PATH",
                  auto_approve_flag="--dangerously-bypass-approvals-and-sandbox"),
        AgentInfo(name="tests", label="Run the tests", kind="custom", argv=["make", "test"],
                  cwd="~/src/app", detected=True, path="/usr/bin/make", detection="pinned"),
    ]
    fake.approvals_data = [
        Approval(id="ap000001", kind="auto_approve", subject="b3c4d5e6",
                 summary="phone:pixel asks to run codex --dangerously-bypass-approvals-and-"
                 "sandbox (session codex-1, in /home/ada/src/app) without its permission prompts",
                 requested_by="phone:pixel", created=NOW - 60, expires=NOW + 540,
                 state="pending"),
        Approval(id="ap000000", kind="auto_approve", subject="zz", summary="an older request",
                 requested_by="peer:laptop", created=NOW - 4000, expires=NOW - 3400,
                 state="denied", decided_by="local:local", decided_at=NOW - 3900),
    ]
    fake.peers_data = [
        PeerInfo(id="p" * 32, name="laptop", host="192.168.1.20", port=19533, paired=True,
                 status="online", latency_ms=2.4, last_seen=NOW - 5, version="0.1.0",
                 capabilities=["execute", "sessions", "files"]),
        PeerInfo(id="q" * 32, name="nas", host="192.168.1.30", port=19533, paired=True,
                 status="offline", last_seen=NOW - 86400 * 2,
                 last_error="unreachable"),
        PeerInfo(id="r" * 32, name="desk", host="192.168.1.40", port=19533, paired=False,
                 status="online", latency_ms=1.1, source="mdns"),
    ]
    fake.phones_data = [
        Phone(phone_id="ph-pixel", name="Pixel 8", created_at=NOW - 86400 * 3,
              last_seen=NOW, connected=True),
        Phone(phone_id="ph-ipad", name="iPad", created_at=NOW - 86400 * 10,
              last_seen=NOW - 7200, connected=False),
    ]
    fake.inbox_data = [
        InboxEntry(envelope=Envelope.model_validate({
            "id": "m-0002", "from": "laptop", "to": "workstation", "ts": NOW - 30,
            "type": "result", "body": {"task": "build", "status": "done", "artifact": "app.tar"},
            "ttl": 86400}), received_at=NOW - 30),
        InboxEntry(envelope=Envelope.model_validate({
            "id": "m-0001", "from": "laptop", "to": "workstation", "ts": NOW - 300,
            "type": "text", "body": "The build on the laptop is green; pull when you can.",
            "ttl": 86400}), received_at=NOW - 300),
    ]
    fake.audit_backlog = [
        AuditRecord(ts=NOW - 20, caller="local:local", method="GET", path="/api/v1/sessions",
                    status=200, ms=0.7),
        AuditRecord.model_validate({"ts": NOW - 15, "caller": "phone:pixel",
                                    "event": "session.created", "id": "b3c4d5e6",
                                    "name": "codex-1"}),
        AuditRecord(ts=NOW - 10, caller="key:api", method="POST", path="/api/v1/execute",
                    status=403, ms=1.2),
        AuditRecord(ts=NOW - 5, caller="peer:laptop", method="GET", path="/api/v1/status",
                    status=200, ms=0.4),
    ]
    fake.relay_data = RelayStatus(url="wss://relay.example.net", connected=True,
                                  device_id="dev-1", connected_since=NOW - 3000,
                                  phones_online=1)
    fake.screens["a1b2c3d4"] = (
        b"\x1b[1;35m\xe2\x9c\xbb Claude Code\x1b[0m  \x1b[2m~/src/loopsy\x1b[0m\r\n\r\n"
        b"\x1b[32m>\x1b[0m fix the failing test in tests/unit\r\n\r\n"
        b"\x1b[33m\xe2\x97\x8f\x1b[0m Read \x1b[1mtests/unit/test_config.py\x1b[0m\r\n"
        b"\x1b[31m- assert cfg.port == 19532\x1b[0m\r\n"
        b"\x1b[32m+ assert cfg.server.port == 19532\x1b[0m\r\n\r\n"
        b"\x1b[7m Accept edit? (y/n) \x1b[0m "
    )
    fake.screens["e5f6a7b8"] = (
        b"make: watching for changes...\r\n\x1b[32mok\x1b[0m  build 0.8s\r\n$ "
    )
    return fake
