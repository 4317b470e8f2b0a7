"""The holder's stream logic driven step by step: a real program on a real PTY, a client
connection on a socketpair, and the test deciding when the PTY is read and when the
client's socket drains. Deterministic where the daemon's timing would not be."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loopsy.daemon.sessions.child import spawn
from loopsy.daemon.sessions.holder import Holder
from loopsy.daemon.sessions.holder_clients import POLL_IN, Conn
from loopsy.daemon.sessions.holder_output import READ_BATCH, ring_capacity
from loopsy.daemon.sessions.holder_spec import HolderSpec
from loopsy.protocol import stream
from tests.helpers.sessions import payload


@pytest.fixture
def make_holder(tmp_path: Path) -> Iterator[Callable[..., Holder]]:
    made: list[Holder] = []

    def build(argv: list[str], **spec: int) -> Holder:
        directory = tmp_path / f"s{len(made)}"
        directory.mkdir()
        holder_spec = HolderSpec(
            id="t", directory=directory, argv=argv, cwd=str(tmp_path), env={}, **spec
        )
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wake_r, wake_w = os.pipe()
        os.close(wake_w)
        child = spawn(argv, str(tmp_path), {"PATH": os.environ["PATH"]}, 80, 24)
        holder = Holder(holder_spec, listener, child, wake_r)
        made.append(holder)
        return holder

    yield build
    for holder in made:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(holder.child.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(holder.child.pid, 0)
        holder._close_all()
        if holder.master is not None:
            os.close(holder.master)
        os.close(holder.wakeup)


def connect(holder: Holder) -> tuple[Conn, socket.socket]:
    ours, theirs = socket.socketpair()
    theirs.settimeout(10)
    ours.setblocking(False)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    conn = Conn(ours)
    holder.clients.conns[conn.fd] = conn
    return conn, theirs


def read_while_allowed(holder: Holder, rounds: int) -> None:
    """Loop turns as the holder's loop makes them, as far as the PTY goes: read it while
    the holder watches it for input, until it stops doing so."""
    for _ in range(rounds):
        holder._update_master()
        if holder.master is None or not holder.registered.get(holder.master, 0) & POLL_IN:
            return
        ready, _, _ = select.select([holder.master], [], [], 5.0)
        assert ready, "the program stopped writing"
        holder.read_pty()
    raise AssertionError("flow control never paused the PTY")


def test_ring_capacity_covers_a_window_and_a_read() -> None:
    assert ring_capacity(64 * 1024, 256 * 1024) == 256 * 1024 + 3 * READ_BATCH
    assert ring_capacity(8 << 20, 256 * 1024) == 8 << 20


def test_a_client_acking_all_it_receives_never_falls_off_a_small_ring(
    make_holder: Callable[..., Holder], tmp_path: Path
) -> None:
    """The client's socket is congested (it drains only when the test says): the holder
    keeps reading up to the window, so the ring must keep every byte not yet acked."""
    source = tmp_path / "payload"
    data = payload(4 << 20, seed=3)
    source.write_bytes(data)
    holder = make_holder(["cat", str(source)], ring_bytes=64 * 1024)
    conn, client = connect(holder)
    with client:
        holder.clients.attach(conn, stream.Attach(0))
        splitter = stream.FrameSplitter()
        got = bytearray()
        expected = data.replace(b"\n", b"\r\n")
        for _ in range(10_000):
            read_while_allowed(holder, rounds=1000)  # fills the window while the socket is full
            while len(got) < holder.flow.window(conn.fd).sent:  # the client drains, acks all
                for raw in splitter.feed(client.recv(1 << 20)):
                    frame = stream.decode(raw)
                    if isinstance(frame, stream.Snapshot):
                        raise AssertionError(
                            f"SNAPSHOT at {frame.offset}: bytes lost at {len(got)}"
                        )
                    if isinstance(frame, stream.Output):
                        assert frame.offset == len(got)
                        got += frame.data
                holder.clients._frame(conn, stream.encode(stream.Ack(len(got))))
                holder.clients.flush(conn)
            if len(got) >= len(expected) // 2:
                break
    assert len(got) >= len(expected) // 2
    assert bytes(got) == expected[: len(got)]


def test_after_the_program_exits_a_slow_client_still_gets_every_byte_before_exit(
    make_holder: Callable[..., Holder], tmp_path: Path
) -> None:
    """The shell exits at once, leaving a writer on the PTY: the holder keeps to the
    client's window (it does not drain the PTY past it) until the exit grace is up, then
    drains one batch and hangs up; the client gets every byte read, then EXIT."""
    source = tmp_path / "payload"
    source.write_bytes(payload(8 << 20, seed=5))
    holder = make_holder(
        ["/bin/sh", "-c", f"trap '' HUP; cat '{source}' & exit 7"], ring_bytes=64 * 1024
    )
    conn, client = connect(holder)
    with client:
        holder.clients.attach(conn, stream.Attach(0))
        read_while_allowed(holder, rounds=1000)  # the client acks nothing: the window fills
        for _ in range(500):  # the shell exits at once; its cat keeps the PTY open
            holder._reap()
            if holder.status is not None:
                break
            select.select([], [], [], 0.01)
        assert holder.status is not None and not holder.finished
        read_while_allowed(holder, rounds=1000)  # the grace period: the window still holds
        assert holder.ring.end <= holder.flow.high + 3 * READ_BATCH
        holder.finish()  # what EXIT_GRACE does: drain one batch, hang up, report
        assert holder.finished and holder.master is None
        splitter = stream.FrameSplitter()
        got = 0
        exit_frame = None
        for _ in range(10_000):
            for raw in splitter.feed(client.recv(1 << 20)):
                frame = stream.decode(raw)
                assert not isinstance(frame, stream.Snapshot), f"fell off the ring at {got}"
                if isinstance(frame, stream.Output):
                    assert frame.offset == got
                    got += len(frame.data)
                elif isinstance(frame, stream.Exit):
                    exit_frame = frame
            if exit_frame is not None:
                break
            holder.clients._frame(conn, stream.encode(stream.Ack(got)))
            holder.clients.flush(conn)
        assert exit_frame is not None and exit_frame.offset == got == holder.ring.end
        assert exit_frame.returncode == 7


def test_a_fast_readers_bigger_window_and_ring_go_when_it_leaves(
    make_holder: Callable[..., Holder], tmp_path: Path
) -> None:
    """A client that drains fast gets a window past ``high`` and the ring room for it;
    when it detaches the ring goes back to its configured size (screen fed first)."""
    source = tmp_path / "payload"
    data = payload(16 << 20, seed=6)
    source.write_bytes(data)
    holder = make_holder(["cat", str(source)])
    conn, client = connect(holder)
    base = holder.ring.capacity
    with client:
        holder.clients.attach(conn, stream.Attach(0))
        splitter = stream.FrameSplitter()
        got, now = 0, 0.0
        for _ in range(10_000):
            read_while_allowed(holder, rounds=1000)
            while got < holder.flow.window(conn.fd).sent:
                for raw in splitter.feed(client.recv(1 << 20)):
                    frame = stream.decode(raw)
                    assert isinstance(frame, stream.Attached | stream.Output), frame
                    if isinstance(frame, stream.Output):
                        got = frame.offset + len(frame.data)
                now += 0.0002  # a reader that drains each read at once, fast
                holder.flow.ack(conn.fd, got, holder.ring.end, now)
                holder.clients.pump(conn)
                holder.clients.flush(conn)
            if len(holder.ring) > base + READ_BATCH:
                break
        assert holder.flow.window(conn.fd).high > holder.flow.high
        assert holder.ring.capacity > base and len(holder.ring) > base
        holder.clients.close(conn)
    assert holder.ring.capacity == base
    assert len(holder.ring) <= base + READ_BATCH
    assert holder.output.fed >= holder.ring.start  # the emulator saw every byte dropped
