"""Flow control, attach planning, the client tracker, the ring, the resize debouncer and
the detach key: plain calls, no I/O."""

from __future__ import annotations

import pytest

from loopsy.cli.detach import DetachKeys
from loopsy.daemon.sessions.ring import Ring
from loopsy.protocol import stream
from loopsy.protocol.attach import Replay, SendSnapshot, StreamTracker, plan_attach
from loopsy.protocol.errors import ProtocolError
from loopsy.protocol.flow import FlowControl, ResizeDebouncer

KB = 1024


def test_window_limits_what_is_sent_beyond_the_last_ack() -> None:
    flow: FlowControl[str] = FlowControl(high=128 * KB, low=32 * KB)
    flow.attach("a", 0)
    assert flow.sendable("a", 500 * KB) == 128 * KB
    flow.sent("a", 128 * KB)
    assert flow.sendable("a", 500 * KB) == 0
    flow.ack("a", 100 * KB, 500 * KB)
    assert flow.sendable("a", 500 * KB) == 100 * KB


def test_pause_and_resume_with_hysteresis() -> None:
    flow: FlowControl[str] = FlowControl(high=128 * KB, low=32 * KB)
    flow.attach("a", 0)
    flow.sent("a", 128 * KB)
    flow.produced(128 * KB)
    assert not flow.reading_allowed()
    flow.ack("a", 64 * KB, 128 * KB)  # backlog 64 KB: above low, still paused
    assert not flow.reading_allowed()
    flow.ack("a", 96 * KB, 128 * KB)  # backlog 32 KB: resumes
    assert flow.reading_allowed()


def test_a_slow_client_does_not_stop_reading_for_a_fast_one() -> None:
    flow: FlowControl[str] = FlowControl(high=128 * KB, low=32 * KB)
    flow.attach("slow", 0)
    flow.attach("fast", 0)
    end = 0
    for _ in range(50):
        end += 16 * KB
        flow.produced(end)
        flow.sent("fast", end)
        flow.ack("fast", end, end)
        assert flow.reading_allowed()
    assert flow.window("slow").paused
    flow.detach("fast")
    assert not flow.reading_allowed()


def test_no_clients_means_read() -> None:
    assert FlowControl[int]().reading_allowed()


def test_ack_beyond_sent_is_a_protocol_error_and_old_acks_are_harmless() -> None:
    flow: FlowControl[str] = FlowControl()
    flow.attach("a", 10)
    flow.sent("a", 20)
    with pytest.raises(ProtocolError, match="only bytes before 20"):
        flow.ack("a", 21, 20)
    flow.reset("a", 100)
    flow.ack("a", 15, 100)  # an ACK from before the snapshot
    assert flow.window("a").acked == 100


def test_watermarks_are_checked() -> None:
    with pytest.raises(ValueError, match="under"):
        FlowControl(high=50 * KB, low=10 * KB)
    with pytest.raises(ValueError):
        FlowControl(high=200 * KB, low=300 * KB)


def test_plan_attach() -> None:
    assert plan_attach(50, False, 10, 100) == Replay(50)
    assert plan_attach(100, False, 10, 100) == Replay(100)
    assert plan_attach(5, False, 10, 100) == SendSnapshot()
    assert plan_attach(50, True, 10, 100) == SendSnapshot()
    with pytest.raises(ProtocolError, match="beyond the end"):
        plan_attach(101, False, 10, 100)


def test_tracker_detects_gaps_and_acks_every_so_often() -> None:
    tracker = StreamTracker()
    tracker.receive(stream.Attached(0, 0, 80, 24, 256 * KB, 10))
    tracker.receive(stream.Snapshot(100, 80, 24, b""))
    assert tracker.offset == 100
    tracker.receive(stream.Output(100, b"x" * 5))
    assert tracker.rendered() is None  # 5 < ack_every
    tracker.receive(stream.Output(105, b"x" * 5))
    assert tracker.rendered() == 110
    with pytest.raises(ProtocolError, match="bytes were lost"):
        tracker.receive(stream.Output(111, b"y"))
    assert tracker.flush() is None


def test_ring_keeps_capacity_and_reads_across_chunks() -> None:
    ring = Ring(capacity=10_000)
    data = bytes(range(256)) * 100  # 25,600 bytes in chunks of 5,000
    for start in range(0, len(data), 5000):
        ring.append(data[start : start + 5000])
    ring.trim()
    assert ring.end == len(data)
    assert 10_000 <= len(ring) < 15_000
    assert ring.read(ring.start, 10**9) == data[ring.start :]
    assert ring.read(ring.end - 7, 3) == data[-7:-4]
    with pytest.raises(IndexError):
        ring.read(ring.start - 1, 1)


def test_ring_trim_never_drops_what_the_emulator_has_not_read() -> None:
    ring = Ring(capacity=100, start=1000)
    for _ in range(10):
        ring.append(b"z" * 5000)
    ring.trim(keep_from=1000)
    assert ring.start == 1000
    ring.trim(keep_from=21000)
    assert ring.start == 21000


def test_ring_merges_tiny_chunks() -> None:
    ring = Ring(capacity=1 << 20)
    for _ in range(10_000):
        ring.append(b"k")
    assert len(ring._chunks) < 10  # one keystroke per chunk would be 10,000 objects
    assert ring.read(0, 10_000) == b"k" * 10_000


def test_debouncer_applies_the_first_and_the_last_of_a_storm() -> None:
    debouncer = ResizeDebouncer(interval=0.05)
    assert debouncer.request(80, 24, now=0.0) == (80, 24)
    applied = []
    for i in range(40):  # 40 sizes within 40 ms
        size = debouncer.request(81 + i, 24, now=0.001 * (i + 1))
        if size:
            applied.append(size)
    assert applied == []
    assert debouncer.deadline == pytest.approx(0.05)
    assert debouncer.due(0.049) is None
    assert debouncer.due(0.05) == (120, 24)
    assert debouncer.due(1.0) is None


def test_detach_keys() -> None:
    keys = DetachKeys()
    assert keys.feed(b"ls\r") == (b"ls\r", False)
    assert keys.feed(b"a\x1d") == (b"a", False)  # prefix split across reads
    assert keys.feed(b"d") == (b"", True)
    assert keys.feed(b"\x1d\x1d") == (b"\x1d", False)
    assert keys.feed(b"\x1dx") == (b"\x1dx", False)
    assert keys.feed(b"q\x1ddrest") == (b"q", True)


def test_a_fast_readers_window_grows_and_a_slow_ones_stays() -> None:
    """Windows follow 50 ms of each client's ACK rate, between high and max_high."""
    flow: FlowControl[str] = FlowControl(high=256 * KB, low=64 * KB, max_high=4096 * KB)
    flow.attach("fast", 0)
    flow.attach("slow", 0)
    now, end = 0.0, 0
    for _ in range(40):  # fast: 100 MB/s (2.5 MB every 25 ms); slow: 2 MB/s
        end += 4096 * KB
        now += 0.025
        for key, rate in (("fast", 100e6), ("slow", 2e6)):
            window = flow.window(key)
            target = min(end, window.acked + int(rate * 0.025))
            flow.sent(key, max(window.sent, min(end, window.acked + window.high)))
            flow.ack(key, min(target, window.sent), end, now)
    assert flow.window("fast").high == 4096 * KB  # 100 MB/s x 50 ms = 5 MB: the cap
    assert flow.window("slow").high == 256 * KB  # 2 MB/s x 50 ms = 100 KB: stays at high
    assert flow.largest_high() == 4096 * KB
    assert flow.low_of(flow.window("fast")) == 1024 * KB  # low scales with the window
    flow.detach("fast")
    assert flow.largest_high() == 256 * KB


def test_a_window_shrinks_back_when_its_reader_slows_down() -> None:
    flow: FlowControl[str] = FlowControl(high=256 * KB, low=64 * KB, max_high=4096 * KB)
    flow.attach("a", 0)
    flow.sent("a", 8192 * KB)
    flow.ack("a", 0, 8192 * KB, now=0.0)
    flow.ack("a", 4096 * KB, 8192 * KB, now=0.05)  # 80 MB/s
    assert flow.window("a").high == 4096 * KB
    flow.ack("a", 4096 * KB + 40 * KB, 8192 * KB, now=0.15)  # 0.4 MB/s
    assert flow.window("a").high == 256 * KB


def test_without_times_or_max_high_the_window_is_high() -> None:
    fixed: FlowControl[str] = FlowControl(high=128 * KB, low=32 * KB)
    fixed.attach("a", 0)
    fixed.sent("a", 128 * KB)
    fixed.ack("a", 0, 128 * KB, now=0.0)
    fixed.ack("a", 128 * KB, 128 * KB, now=1.0)  # adaptive off: no max_high
    assert fixed.window("a").high == 128 * KB
    untimed: FlowControl[str] = FlowControl(high=128 * KB, low=32 * KB, max_high=1024 * KB)
    untimed.attach("a", 0)
    untimed.sent("a", 128 * KB)
    untimed.ack("a", 128 * KB, 128 * KB)
    assert untimed.window("a").high == 128 * KB
