"""A fresh screen fed a snapshot looks and behaves exactly like the screen it came from."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopsy.terminal import Screen
from tests.unit.terminal import recorded
from tests.unit.terminal.observe import check_invariants, observe, roundtrip
from tests.unit.terminal.streams import agent_repaint, vt_stream


def assert_roundtrip(screen: Screen, fed: bytes = b"") -> Screen:
    """``fed`` ends with what was fed last: its unapplied tail goes to the copy first."""
    copy = roundtrip(screen)
    assert observe(copy) == observe(screen)
    # Behaviour, not just looks: the same further output lands the same way on both.
    probe = b"X\xe4\xb8\xadY\r\nnext\x1b[1Bq\x1b7\x1b[?1049l\x1b8Z\x1b[?1049h\x1b[5;1rW\n\n\n"
    original = observe(screen)
    probed = roundtrip(screen)
    assert screen.unapplied <= len(fed)
    probed.feed(fed[len(fed) - screen.unapplied:] if screen.unapplied else b"")
    probed.feed(probe)
    screen.feed(probe)
    assert observe(probed) == observe(screen)
    assert observe(copy) == original
    return copy


@pytest.mark.parametrize("name", recorded.NAMES)
def test_captured_programs_roundtrip(name: str) -> None:
    data = recorded.read(name)
    screen = Screen(*recorded.size_of(name), scrollback=200)
    screen.feed(data)
    check_invariants(screen)
    assert_roundtrip(screen, data)


@pytest.mark.parametrize("name", recorded.NAMES)
def test_captured_programs_roundtrip_at_every_prefix_boundary(name: str) -> None:
    """Snapshots taken mid-stream (at 50 cut points) also rebuild the screen."""
    data = recorded.read(name)
    screen = Screen(*recorded.size_of(name), scrollback=50)
    step = max(1, len(data) // 50)
    for start in range(0, len(data), step):
        screen.feed(data[start:start + step])
        assert observe(roundtrip(screen)) == observe(screen)


def test_vim_capture_shows_the_file_on_the_alternate_screen() -> None:
    screen = Screen(80, 24)
    screen.feed(recorded.read("vim"))
    assert screen.alternate
    assert any("function_" in line for line in screen.display())
    assert "typed 中文 text" in "\n".join(screen.display())


def test_vim_exit_capture_returns_to_the_main_screen() -> None:
    screen = Screen(80, 24)
    screen.feed(recorded.read("vim_exit"))
    assert not screen.alternate


def test_agent_repaint_roundtrip_keeps_truecolor_and_wide_characters() -> None:
    screen = Screen(120, 40, scrollback=100)
    for seed in range(3):
        screen.feed(agent_repaint(120, 40, seed))
    copy = assert_roundtrip(screen)
    assert "? for shortcuts" in copy.display()[-1]
    styles = {style for y in range(40) for _, style in copy.row_runs(y)}
    assert any(isinstance(style.fg, tuple) for style in styles)
    assert any(style.bg == 236 for style in styles)
    assert any("中文" in line for line in copy.display())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stream=vt_stream,
    cols=st.integers(1, 12),
    rows=st.integers(1, 7),
    scrollback=st.integers(0, 6),
)
def test_generated_streams_roundtrip(stream: str, cols: int, rows: int, scrollback: int) -> None:
    screen = Screen(cols, rows, scrollback=scrollback)
    data = stream.encode("utf-8", "surrogatepass")
    screen.feed(data)
    check_invariants(screen)
    assert_roundtrip(screen, data)


@settings(max_examples=150, deadline=None)
@given(
    streams=st.lists(st.tuples(vt_stream, st.integers(1, 12), st.integers(1, 7)), max_size=5),
)
def test_resizes_between_output_roundtrip(streams: list[tuple[str, int, int]]) -> None:
    screen = Screen(10, 5, scrollback=4)
    for stream, cols, rows in streams:
        data = stream.encode("utf-8", "surrogatepass")
        screen.feed(data)
        screen.resize(cols, rows)
        check_invariants(screen)
        assert_roundtrip(screen, data)


def test_snapshot_of_full_size_session_is_small() -> None:
    """200x50 with 1,000 lines of scrollback of ordinary coloured output."""
    screen = Screen(200, 50, scrollback=1000)
    for i in range(1200):
        screen.feed(f"\x1b[32m{i:5}\x1b[0m  some log line with \x1b[1mbold\x1b[0m text "
                    f"{'x' * (i % 90)}\r\n".encode())
    snapshot = screen.snapshot()
    assert len(snapshot) < 256 * 1024
    assert screen.scrollback_size == 1000
    assert_roundtrip(screen)
