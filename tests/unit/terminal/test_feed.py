"""Where feed() boundaries fall never changes the result, and the plain-text fast path is
exactly the slow path."""

from __future__ import annotations

import base64
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopsy.terminal import Screen
from tests.unit.terminal import recorded
from tests.unit.terminal.observe import check_invariants, observe
from tests.unit.terminal.streams import agent_repaint, styled_stream, vt_stream

SAMPLE = (
    "plain \x1b[1;38;2;10;20;30mbold truecolor\x1b[0m 中文😀 e\u0301\r\n"
    "\x1b]2;a title\x1b\\\x1b]0;other\x07\x1b[?1049h\x1b[3;4Halt\x1b(0lqqk\x1b(B\x1bP1$r\x1b\\"
    "\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b[5 q\x1b[2;5r\x1b[?6h\x1b[2;2Hx\x1b[4h\x1b[1@y"
).encode()


def fed_in_pieces(data: bytes, cuts: list[int], cols: int = 20, rows: int = 6) -> Screen:
    screen = Screen(cols, rows, scrollback=30)
    previous = 0
    for cut in sorted(cuts):
        screen.feed(data[previous:cut])
        previous = cut
    screen.feed(data[previous:])
    return screen


def test_split_at_every_position_matches_one_feed() -> None:
    whole = observe(fed_in_pieces(SAMPLE, []))
    for cut in range(len(SAMPLE) + 1):
        assert observe(fed_in_pieces(SAMPLE, [cut])) == whole, cut


def test_byte_at_a_time_matches_one_feed() -> None:
    assert observe(fed_in_pieces(SAMPLE, list(range(len(SAMPLE))))) == observe(
        fed_in_pieces(SAMPLE, [])
    )


@pytest.mark.parametrize("name", recorded.NAMES)
def test_captures_byte_at_a_time_match_one_feed(name: str) -> None:
    data = recorded.read(name)
    whole = Screen(*recorded.size_of(name), scrollback=100)
    whole.feed(data)
    single = Screen(*recorded.size_of(name), scrollback=100)
    for i in range(len(data)):
        single.feed(data[i:i + 1])
    assert observe(single) == observe(whole)


@settings(max_examples=200, deadline=None)
@given(stream=vt_stream, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_generated_streams_split_anywhere(stream: str, cuts: list[int]) -> None:
    data = stream.encode("utf-8", "surrogatepass")
    cuts = [cut for cut in cuts if cut <= len(data)]
    assert observe(fed_in_pieces(data, cuts, 9, 5)) == observe(fed_in_pieces(data, [], 9, 5))


@settings(max_examples=300, deadline=None)
@given(stream=styled_stream, cols=st.integers(1, 16), cuts=st.lists(st.integers(0, 300)))
def test_styled_text_fast_paths_match_a_byte_at_a_time_feed(
    stream: str, cols: int, cuts: list[int]
) -> None:
    """Whole feeds take the styled-block path (SGR runs and texts applied in one loop,
    rows kept as spans); one byte at a time never does."""
    data = stream.encode("utf-8", "surrogatepass")
    whole = fed_in_pieces(data, [cut for cut in cuts if cut <= len(data)], cols, 5)
    check_invariants(whole)
    assert observe(whole) == observe(fed_in_pieces(data, list(range(len(data))), cols, 5))


def _plain_payload(seed: int, size: int) -> bytes:
    return base64.encodebytes(random.Random(seed).randbytes(size)).replace(b"\n", b"\r\n")


PREFIXES = {
    "fresh": b"",
    "bottom": b"\x1b[24;1H",
    "region": b"\x1b[3;20r\x1b[20;1H",
    "pen": b"\x1b[41;1m\x1b[24;1H",
    "alt": b"\x1b[?1049h\x1b[24;1H",
    "insert": b"\x1b[4h\x1b[24;1H",
    "newline_mode": b"\x1b[20h",
    "graphics": b"\x1b(0",
    "no_wrap": b"\x1b[?7l\x1b[24;1H",
    "mid_line": b"\x1b[24;1Hprompt$ ",
}


@pytest.mark.parametrize("prefix", sorted(PREFIXES))
@pytest.mark.parametrize("cols", [40, 76, 80])
def test_plain_fast_path_equals_slow_path(prefix: str, cols: int) -> None:
    """64 KB feeds take the fast path; 7-byte feeds never do. 40 columns wraps each line."""
    data = PREFIXES[prefix] + _plain_payload(cols, 60_000) + b"tail without newline"
    fast = Screen(cols, 24, scrollback=100)
    fast.feed(data)
    slow = Screen(cols, 24, scrollback=100)
    for start in range(0, len(data), 7):
        slow.feed(data[start:start + 7])
    check_invariants(fast)
    assert observe(fast) == observe(slow)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    scrollback=st.integers(0, 8),
    lengths=st.lists(st.integers(0, 25), min_size=1, max_size=40),
    start=st.sampled_from([b"", b"\x1b[3;1H", b"\x1b[99;1H", b"left over"]),
)
def test_a_flood_skips_only_lines_that_can_no_longer_be_seen(
    rows: int, scrollback: int, lengths: list[int], start: bytes
) -> None:
    """One feed of over 64 KB of plain lines splits only the lines that the screen and
    the scrollback can still show (lines of up to 25 characters at 10 columns wrap into
    up to three rows); feeding a line at a time never skips."""
    pattern = "\r\n".join("abcdefghijklmnopqrstuvwxy"[:n] for n in lengths) + "\r\n"
    text = pattern * (70_000 // len(pattern) + 1)
    data = start + text.encode() + b"tail"
    whole = Screen(10, rows, scrollback=scrollback)
    whole.feed(data)
    check_invariants(whole)
    single = Screen(10, rows, scrollback=scrollback)
    single.feed(start)
    for line in data[len(start):].splitlines(keepends=True):
        single.feed(line)
    assert observe(whole) == observe(single)


def test_plain_fast_path_with_bare_newlines_and_carriage_returns() -> None:
    lines = [f"{i:06} " + "y" * (i % 50) for i in range(3000)]
    text = "\n".join(lines) + "\r\n" + "\r\n".join(lines) + "\rover\r\n" + "\r\r\n".join(lines)
    data = text.encode()
    fast = Screen(60, 10, scrollback=50)
    fast.feed(data)
    slow = Screen(60, 10, scrollback=50)
    for start in range(0, len(data), 5):
        slow.feed(data[start:start + 5])
    assert observe(fast) == observe(slow)


def test_output_after_fast_path_edits_the_plain_rows() -> None:
    screen = Screen(80, 24, scrollback=10)
    screen.feed(_plain_payload(1, 30_000))
    last = screen.display()[-2]
    screen.feed(b"\x1b[23;3H\x1b[1mX\x1b[0m\x1b[K")
    assert screen.display()[-2] == (last[:2] + "X").ljust(80)
    assert screen.row_runs(22)[1][1].bold
    screen.feed(agent_repaint(80, 24, 0))
    check_invariants(screen)
