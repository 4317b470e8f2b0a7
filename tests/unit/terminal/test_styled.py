"""Rows written left to right in colours are kept as spans (SpanRow) and styled blocks are
applied in one loop; every such case must equal the general path (one byte at a time)."""

from __future__ import annotations

import pytest

from loopsy.terminal import Screen
from loopsy.terminal.lines import Row, SpanRow, StyledLine
from loopsy.terminal.style import DEFAULT, Style
from tests.unit.terminal.observe import check_invariants, observe
from tests.unit.terminal.streams import agent_repaint

CASES = {
    "coloured log line": "\x1b[2m12:00\x1b[0m \x1b[32mINFO\x1b[0m done in \x1b[1m5ms\x1b[0m\r\n",
    "block across the margin": "\x1b[31m" + "r" * 7 + "\x1b[32m" + "g" * 7 + "\x1b[33mend",
    "block ending on the last column": "\x1b[31mabcdefghij\x1b[32mklmnopqrst\x1b[0mX",
    "gap before the block": "ab\x1b[9G\x1b[31mred\x1b[32mgreen",
    "gap on a span row": "\x1b[31mab\x1b[0m\x1b[9G\x1b[32mx\x1b[33my",
    "wide characters": "\x1b[31m中文\x1b[32m😀x\x1b[33m中文中文中文中文",
    "combining mark mid-block": "\x1b[31mab\x1b[32me\u0301\x1b[33mcd",
    "undecodable byte mid-block": "\x1b[31mab\x1b[32m\udcff\x1b[33mcd",
    "graphics charset": "\x1b(0\x1b[31mqqq\x1b[32mxxx\x1b(B\x1b[33mqx",
    "shifted graphics": "\x1b)0\x0e\x1b[31mqq\x1b(B\x1b[32mxx\x0f\x1b[33mqq",
    "ncurses reset in a block": "\x1b(0\x1b[31mq\x1b(B\x1b[m\x1b[32mq\x1b(B\x1b[mq",
    "repeat after a block": "\x1b[31mab\x1b[32mcd\x1b[3b",
    "overwrite a span row": "\x1b[31mabcdef\x1b[0m\x1b[1G\x1b[32mxy\x1b[33mz",
    "insert mode": "\x1b[31mabcdef\x1b[1G\x1b[4h\x1b[32mxy\x1b[33mz\x1b[4l",
    "pending wrap then block": "x" * 20 + "\x1b[31ma\x1b[32mb",
    "no autowrap": "\x1b[?7l\x1b[31m" + "a" * 15 + "\x1b[32m" + "b" * 15,
    "erase the rest in a background": "\x1b[31mab\x1b[44m\x1b[K\x1b[0m\r\n"
    "\x1b[32mcd\x1b[45m\x1b[3X",
    "erase the tail of a plain row": "plain text\x1b[6G\x1b[K\x1b[2;3H\x1b[1K",
    "empty texts only": "\x1b[31m\x1b[32m\x1b[0m",
    "agent status bar": "\x1b[48;5;236m\x1b[38;5;250m ? for shortcuts\x1b[K\x1b[0m",
}


def fed(data: bytes, *, byte_at_a_time: bool = False, cols: int = 20) -> Screen:
    screen = Screen(cols, 4, scrollback=10)
    if byte_at_a_time:
        for i in range(len(data)):
            screen.feed(data[i:i + 1])
    else:
        screen.feed(data)
    check_invariants(screen)
    return screen


@pytest.mark.parametrize("name", sorted(CASES))
def test_styled_block_equals_the_general_path(name: str) -> None:
    data = CASES[name].encode("utf-8", "surrogateescape")
    assert observe(fed(data)) == observe(fed(data, byte_at_a_time=True))


def test_a_coloured_row_is_kept_as_spans_and_stored_from_them() -> None:
    screen = fed(CASES["coloured log line"].encode() * 5, cols=40)
    assert screen.scrollback_size == 2
    stored = screen.history[0]
    assert isinstance(stored, StyledLine)
    assert stored.text == "12:00 INFO done in 5ms"
    assert stored.spans == ((Style(dim=True), 5), (DEFAULT, 1), (Style(fg=2), 4),
                            (DEFAULT, 9), (Style(bold=True), 3))
    assert isinstance(screen.page.lines[2], SpanRow)
    assert screen.row_runs(2)[:2] == [("12:00", Style(dim=True)), (" ", DEFAULT)]


def test_overwriting_written_cells_turns_a_span_row_into_cells() -> None:
    screen = fed(b"\x1b[31mabcdef\x1b[0m")
    assert isinstance(screen.page.lines[0], SpanRow)
    screen.feed(b"\x1b[1G\x1b[32mX")
    assert isinstance(screen.page.lines[0], Row)
    assert screen.display()[0].startswith("Xbcdef")


def test_agent_repaint_rows_stay_spans() -> None:
    screen = Screen(120, 40)
    screen.feed(agent_repaint(120, 40, 1) * 2)
    kinds = {type(line).__name__ for line in screen.page.lines[:37]}
    assert kinds == {"SpanRow"}
    check_invariants(screen)
