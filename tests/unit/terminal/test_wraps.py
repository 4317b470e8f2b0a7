"""Soft wraps: which lines continue the one before, kept as xterm.js keeps them and rebuilt
by a snapshot (so the phone's xterm.js can reflow them and select across them)."""

from __future__ import annotations

from loopsy.terminal import Screen
from loopsy.terminal.style import DEFAULT, Style
from tests.unit.terminal.observe import check_invariants, observe, roundtrip
from tests.unit.terminal.test_roundtrip import assert_roundtrip


def fed(data: str, cols: int = 10, rows: int = 4, scrollback: int = 20) -> Screen:
    screen = Screen(cols, rows, scrollback=scrollback)
    screen.feed(data.encode())
    check_invariants(screen)
    return screen


def flags(screen: Screen) -> list[bool]:
    return [screen.row_wrapped(y) for y in range(screen.rows)]


def history_flags(screen: Screen) -> list[bool]:
    return [screen.scrollback_wrapped(i) for i in range(screen.scrollback_size)]


def test_text_past_the_margin_continues_on_the_next_row() -> None:
    screen = fed("0123456789abc\r\nnext")
    assert screen.display()[:3] == ["0123456789", "abc       ", "next      "]
    assert flags(screen) == [False, True, False, False]


def test_snapshot_writes_a_wrapped_line_up_to_the_margin_without_a_line_break() -> None:
    screen = fed("0123456789abc\r\nnext")
    snapshot = screen.snapshot()
    assert b"0123456789abc\r\nnext" in snapshot
    assert_roundtrip(screen)


def test_wraps_scroll_into_the_scrollback_with_their_flags() -> None:
    screen = fed("x" * 35 + "\r\nshort\r\n" + "y" * 12 + "\r\n", rows=3)
    assert [screen.scrollback_text(i) for i in range(5)] == ["x" * 10] * 3 + ["xxxxx", "short"]
    assert history_flags(screen) == [False, True, True, True, False]
    assert flags(screen) == [False, True, False]
    assert_roundtrip(screen)


def test_the_oldest_line_kept_continues_nothing() -> None:
    screen = fed("x" * 60, rows=2, scrollback=3)
    assert history_flags(screen) == [False, True, True]
    assert flags(screen) == [True, True]
    assert observe(roundtrip(screen)) == observe(screen)
    screen.feed(b"\x1b[3J")
    assert flags(screen) == [False, True]
    assert_roundtrip(screen)


def test_without_scrollback_the_top_row_continues_nothing() -> None:
    screen = fed("x" * 60, rows=2, scrollback=0)
    assert flags(screen) == [False, True]
    assert_roundtrip(screen)


def test_wide_character_that_does_not_fit_leaves_the_last_cell_blank() -> None:
    screen = fed("\x1b[1;10H\x1b[44m中\x1b[0m", rows=3)
    assert screen.display()[:2] == [" " * 10, "中        "]
    assert screen.row_runs(0)[-1] == (" ", Style(bg=4))
    assert flags(screen) == [False, True, False]
    assert_roundtrip(screen)


def test_cjk_line_wraps_mid_character_and_round_trips() -> None:
    screen = fed("ab" + "中文" * 5 + "\r\n", cols=9, rows=5)
    assert screen.display()[:3] == ["ab中文中 ", "文中文中 ", "文中文   "]
    assert flags(screen)[:3] == [False, True, True]
    assert_roundtrip(screen)


def test_final_line_waiting_to_wrap_round_trips() -> None:
    screen = fed("z" * 40)
    assert screen.wrap_pending and screen.cursor == (9, 3)
    assert flags(screen) == [False, True, True, True]
    copy = assert_roundtrip(screen, b"z" * 40)
    assert copy.wrap_pending


def test_wrapped_line_whose_last_cells_are_blank() -> None:
    # Printed to the margin, then the tail erased: still wrapped, blanks written out.
    screen = fed("0123456789abc\x1b[1;6H\x1b[K\x1b[41mred\x1b[0m\x1b[3X")
    assert screen.display()[0] == "01234red  "
    assert flags(screen)[1]
    assert_roundtrip(screen)


def test_blank_continuation_rows_stay_wrapped() -> None:
    # ECH blanks a whole continuation row; EL 1 with a background does it in colour.
    screen = fed("x" * 25 + "\x1b[2;1H\x1b[10X\x1b[3;10H\x1b[44m\x1b[1K\x1b[0m", rows=5)
    assert screen.display()[1:3] == [" " * 10] * 2
    assert flags(screen)[:3] == [False, True, True]
    assert all(style == Style(bg=4) for _, style in screen.row_runs(2))
    assert_roundtrip(screen)


def test_wrap_from_the_bottom_row_scrolls_in_a_row_in_the_pen_background() -> None:
    screen = fed("one\r\ntwo\r\nthree\r\n" + "\x1b[1;31m" + "a" * 9 + "\x1b[42mbc\x1b[0md")
    assert flags(screen) == [False, False, False, True]
    green = Style(fg=1, bold=True, bg=2)
    assert screen.row_runs(3) == [("c", green), ("d", DEFAULT), (" " * 8, Style(bg=2))]
    assert_roundtrip(screen)


def test_style_changes_across_the_wrap_keep_a_default_tail() -> None:
    # Wrapped into an existing row (no scroll): the tail stays default. The snapshot
    # writes that row at the bottom, where its wrap scrolls a green row in, and must
    # erase the tail back to default.
    screen = fed("".join(f"h{i}\r\n" for i in range(6)) + "\x1b[2;1H\x1b[1;31m" + "a" * 9
                 + "\x1b[42mbc\x1b[0md")
    assert screen.scrollback_size == 3
    assert flags(screen) == [False, False, True, False]
    green = Style(fg=1, bold=True, bg=2)
    assert screen.row_runs(2) == [("c", green), ("d" + " " * 8, DEFAULT)]
    assert_roundtrip(screen)


def test_background_across_the_wrap_with_scrollback() -> None:
    screen = fed("".join(f"line {i}\r\n" for i in range(8)) + "\x1b[44m" + "b" * 12
                 + "\x1b[0m tail\r\n" + "\x1b[43m" + "y" * 10 + "\x1b[0m" + "\x1b[45mz\x1b[0m")
    assert screen.row_wrapped(3)
    assert_roundtrip(screen)


def test_alternate_screen_rows_wrap_and_round_trip() -> None:
    screen = fed("main " * 5 + "\x1b[?1049h\x1b[2;1H" + "alt" * 8 + "\x1b[4;1H" + "q" * 10,
                 rows=5)
    assert screen.alternate
    assert flags(screen) == [False, False, True, True, False]
    assert [screen.continues(screen.main, y) for y in range(5)] == [False, True, True, False,
                                                                      False]
    copy = assert_roundtrip(screen)
    copy.feed(b"\x1b[?1049l")
    assert flags(copy) == [False, True, True, False, False]


def test_wrap_at_the_bottom_of_a_scroll_region() -> None:
    screen = fed("top\x1b[2;4r\x1b[4;1H" + "r" * 35, rows=6)
    assert screen.display()[0] == "top       "
    # The region scrolled: its first row continues a row that scrolled away.
    assert flags(screen) == [False, True, True, True, False, False]
    assert screen.scrollback_size == 0
    assert_roundtrip(screen)


def test_wrap_below_the_scroll_region_on_the_last_row_marks_that_row() -> None:
    screen = fed("\x1b[1;2r\x1b[4;1H" + "w" * 12)
    assert screen.cursor == (2, 3)
    assert flags(screen) == [False, False, False, True]
    assert_roundtrip(screen)


def test_line_feed_clears_the_flag_of_the_row_it_moves_to_index_keeps_it() -> None:
    base = "x" * 25 + "\x1b[1;1H"
    assert flags(fed(base + "\n\n")) == [False, False, False, False]
    assert flags(fed(base + "\x1bD\x1bE")) == [False, True, True, False]


def test_erases_drop_flags_as_xterm_js_does() -> None:
    base = "x" * 35 + "\x1b[2;1H"
    assert flags(fed(base + "\x1b[K")) == [False, False, True, True]
    assert flags(fed(base + "\x1b[3G\x1b[K")) == [False, True, True, True]
    assert flags(fed(base + "\x1b[3G\x1b[1K")) == [False, True, True, True]
    assert flags(fed(base + "\x1b[3G\x1b[2K")) == [False, False, True, True]
    assert flags(fed(base + "\x1b[3G\x1b[J")) == [False, True, False, False]
    assert flags(fed(base + "\x1b[J")) == [False, False, False, False]
    assert flags(fed(base + "\x1b[3G\x1b[1J")) == [False, False, True, True]
    assert flags(fed(base + "\x1b[10G\x1b[1J")) == [False, False, False, True]
    assert flags(fed(base + "\x1b[2J")) == [False] * 4
    assert flags(fed(base + "\x1b[5X")) == [False, True, True, True]


def test_inserted_and_deleted_lines_move_flags_with_their_rows() -> None:
    screen = fed("x" * 25 + "\x1b[2;1H\x1b[L")
    assert flags(screen) == [False, False, True, True]
    screen.feed(b"\x1b[1;1H\x1b[2M")
    assert flags(screen) == [False, True, False, False]
    assert_roundtrip(screen)


def test_no_wrap_when_autowrap_is_off() -> None:
    screen = fed("\x1b[?7l" + "x" * 25)
    assert flags(screen) == [False] * 4
    assert_roundtrip(screen)


def test_resize_keeps_flags_with_their_rows() -> None:
    screen = fed("x" * 25 + "\r\n" + "y" * 12)
    screen.resize(6, 3)
    check_invariants(screen)
    assert history_flags(screen) + flags(screen) == [False, True, True, False, True]
    assert_roundtrip(screen)


def test_snapshot_with_less_scrollback_does_not_join_its_first_line() -> None:
    screen = fed("x" * 60, rows=2)
    assert history_flags(screen) == [False, True, True, True]
    copy = Screen(10, 2, scrollback=20)
    copy.feed(screen.snapshot(scrollback=2))
    assert history_flags(copy) == [False, True]
    assert flags(copy) == flags(screen)
    assert copy.display() == screen.display()


def test_snapshot_asking_for_more_scrollback_than_kept_sends_all_of_it() -> None:
    screen = fed("a\r\nb\r\nc\r\nd\r\ne\r\nf", rows=3)
    copy = Screen(10, 3, scrollback=20)
    copy.feed(screen.snapshot(scrollback=50))
    assert observe(copy) == observe(screen)
