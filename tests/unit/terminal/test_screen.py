"""What the emulator does with specific sequences (xterm / xterm.js semantics)."""

from __future__ import annotations

from loopsy.terminal import DEFAULT, Screen, Style
from loopsy.terminal.modes import DecMode


def fed(data: bytes | str, cols: int = 10, rows: int = 4, scrollback: int = 10) -> Screen:
    screen = Screen(cols, rows, scrollback=scrollback)
    screen.feed(data.encode() if isinstance(data, str) else data)
    return screen


def test_text_wraps_only_when_the_next_character_comes() -> None:
    screen = fed("0123456789")
    assert screen.cursor == (9, 0) and screen.wrap_pending
    screen.feed(b"A")
    assert screen.display()[:2] == ["0123456789", "A         "]
    assert screen.cursor == (1, 1)


def test_carriage_return_cancels_a_pending_wrap() -> None:
    screen = fed("0123456789\r\nB")
    assert screen.display()[:2] == ["0123456789", "B         "]


def test_autowrap_off_overwrites_the_last_column() -> None:
    screen = fed("\x1b[?7l0123456789ABC")
    assert screen.display()[0] == "012345678C"
    assert not screen.wrap_pending


def test_wide_characters_take_two_cells_and_wrap_as_a_whole() -> None:
    screen = fed("12345678中文")
    assert screen.display()[:2] == ["12345678中", "文        "]
    screen = fed("123456789中")
    assert screen.display()[:2] == ["123456789 ", "中        "]


def test_overwriting_half_a_wide_character_blanks_the_other_half() -> None:
    screen = fed("中文\x1b[1;2HX")
    assert screen.display()[0] == " X文      "
    screen = fed("中文\x1b[1;3HY")
    assert screen.display()[0] == "中Y       "


def test_combining_marks_join_the_previous_cell() -> None:
    screen = fed("e\u0301x")
    assert screen.display()[0].startswith("e\u0301x")
    assert screen.cursor == (2, 0)


def test_sgr_colours_and_attributes() -> None:
    screen = fed("\x1b[1;3;4;9;31;48;5;200ma\x1b[38;2;1;2;3;22mb\x1b[38:2::4:5:6;7mc"
                 "\x1b[0;95;104md\x1b[mE", cols=8)
    runs = screen.row_runs(0)
    assert runs[0] == ("a", Style(fg=1, bg=200, bold=True, italic=True, underline=True,
                                  strike=True))
    assert runs[1][1] == Style(fg=(1, 2, 3), bg=200, italic=True, underline=True, strike=True)
    assert runs[2][1].fg == (4, 5, 6) and runs[2][1].reverse
    assert runs[3][1] == Style(fg=13, bg=12)
    assert runs[4] == ("E   ", DEFAULT)


def test_erase_uses_the_background_colour() -> None:
    screen = fed("abc\x1b[44m\x1b[2K")
    assert screen.row_runs(0) == [(" " * 10, Style(bg=4))]


def test_title_from_osc_0_and_2_with_either_terminator() -> None:
    assert fed("\x1b]0;first\x07").title == "first"
    assert fed("\x1b]2;second\x1b\\").title == "second"
    assert fed("\x1b]2;bad\x01chars\x07").title == "badchars"


def test_alternate_screen_1049_saves_and_restores_the_cursor() -> None:
    screen = fed("main\x1b[2;3H\x1b[?1049hALT")
    # The cursor keeps its place on the fresh alternate screen (as in xterm.js).
    assert screen.alternate and screen.display()[:2] == [" " * 10, "  ALT     "]
    screen.feed(b"\x1b[?1049l")
    assert not screen.alternate
    assert screen.display()[0] == "main      " and screen.cursor == (2, 1)


def test_alternate_screen_has_no_scrollback() -> None:
    screen = fed("\x1b[?1049h" + "x\r\n" * 20)
    assert screen.scrollback_size == 0


def test_lines_scrolled_off_the_top_go_to_the_scrollback() -> None:
    screen = fed("".join(f"line{i}\r\n" for i in range(10)), scrollback=3)
    assert [screen.scrollback_text(i) for i in range(3)] == ["line4", "line5", "line6"]
    assert screen.display()[:3] == ["line7     ", "line8     ", "line9     "]


def test_scroll_region_not_at_the_top_keeps_lines_out_of_the_scrollback() -> None:
    screen = fed("\x1b[2;4r\x1b[4;1H" + "x\n" * 5)
    assert screen.scrollback_size == 0
    screen = fed("\x1b[1;3r\x1b[3;1H" + "y\r\n" * 5)
    assert screen.scrollback_size == 5


def test_scrollback_keeps_styles_compactly() -> None:
    screen = fed("\x1b[31mred\x1b[0m plain\r\n" + "\r\n" * 4)
    assert screen.scrollback_runs(0)[:2] == [("red", Style(fg=1)), (" plain ", DEFAULT)]


def test_erase_display_3_clears_the_scrollback() -> None:
    screen = fed("a\r\n" * 10 + "\x1b[3J")
    assert screen.scrollback_size == 0


def test_modes_are_tracked() -> None:
    screen = fed("\x1b[?1h\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b=\x1b[?25l\x1b[4h")
    assert {DecMode.APP_CURSOR_KEYS, DecMode.BRACKETED_PASTE, DecMode.MOUSE_VT200,
            DecMode.MOUSE_SGR, DecMode.APP_KEYPAD} <= screen.dec_modes
    assert not screen.cursor_visible and screen.insert
    screen.feed(b"\x1b[?1003h")
    assert DecMode.MOUSE_ANY in screen.dec_modes and DecMode.MOUSE_VT200 not in screen.dec_modes


def test_origin_mode_positions_relative_to_the_region() -> None:
    screen = fed("\x1b[2;3r\x1b[?6h\x1b[1;1HA\x1b[9;1HB", rows=5)
    assert screen.display()[1].startswith("A") and screen.display()[2].startswith("B")


def test_insert_and_delete_characters_and_lines() -> None:
    screen = fed("abcdef\x1b[1;2H\x1b[2@XY\x1b[1;1H\x1b[1P")
    assert screen.display()[0] == "XYbcdef   "
    screen = fed("1\r\n2\r\n3\x1b[2;1H\x1b[L")
    assert [line[0] for line in screen.display()] == ["1", " ", "2", "3"]
    screen.feed(b"\x1b[1;1H\x1b[2M")
    assert [line[0] for line in screen.display()] == ["2", "3", " ", " "]


def test_dec_line_drawing_charset() -> None:
    screen = fed("\x1b(0lqk\x1b(Bq\x0e\x0fq")
    assert screen.display()[0].startswith("┌─┐qq")


def test_tabs_and_repeat() -> None:
    screen = fed("a\tb\x1b[3bc", cols=20)
    assert screen.display()[0] == "a       bbbbc       "


def test_resize_shrink_pushes_rows_above_the_cursor_to_the_scrollback() -> None:
    screen = fed("1\r\n2\r\n3\r\n4")
    screen.resize(10, 2)
    assert screen.display() == ["3         ", "4         "]
    assert [screen.scrollback_text(i) for i in range(2)] == ["1", "2"]
    assert screen.cursor == (1, 1)
    screen.resize(4, 3)
    assert screen.display() == ["3   ", "4   ", "    "]


def test_dirty_rows() -> None:
    screen = fed("x")
    screen.pop_dirty()
    screen.feed(b"\x1b[3;1Hy")
    assert screen.pop_dirty() == {2}
    assert screen.pop_dirty() == set()
    screen.feed(b"\r\n\r\n\r\n")
    assert screen.pop_dirty() == {0, 1, 2, 3}
    version = screen.version
    screen.feed(b"z")
    assert screen.version > version


def test_unapplied_counts_a_cut_escape_and_a_cut_character() -> None:
    screen = fed(b"ok\x1b[3")
    assert screen.unapplied == 3
    screen.feed(b"1mX\xe4\xb8")
    assert screen.unapplied == 2
    screen.feed(b"\xad")
    assert screen.unapplied == 0
    assert screen.display()[0].startswith("okX中")


def test_invalid_utf8_shows_replacement_characters() -> None:
    assert fed(b"a\xffb\xc3").display()[0].startswith("a\ufffdb")


def test_reset_clears_everything() -> None:
    screen = fed("\x1b]2;t\x07\x1b[?1049h\x1b[31mx\x1bc")
    assert not screen.alternate and screen.title == "" and screen.pen == DEFAULT
    assert screen.display() == [" " * 10] * 4
