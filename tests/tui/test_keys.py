"""Pure parts of the dashboard: key, paste and mouse encodings; the pane's terminal state;
the QR code as text."""

from __future__ import annotations

import pytest

from loopsy.protocol import stream
from loopsy.terminal.modes import DecMode
from loopsy.tui import keys
from loopsy.tui.pane_terminal import PaneTerminal
from loopsy.tui.qr import qr_matrix, qr_text

NORMAL: set[int] = set()
APP = {int(DecMode.APP_CURSOR_KEYS)}


@pytest.mark.parametrize(
    ("key", "character", "modes", "expected"),
    [
        ("a", "a", NORMAL, b"a"),
        ("A", "A", NORMAL, b"A"),
        ("é", "é", NORMAL, "é".encode()),
        ("enter", "\r", NORMAL, b"\r"),
        ("tab", "\t", NORMAL, b"\t"),
        ("shift+tab", None, NORMAL, b"\x1b[Z"),
        ("escape", "\x1b", NORMAL, b"\x1b"),
        ("backspace", "\x7f", NORMAL, b"\x7f"),
        ("ctrl+c", "\x03", NORMAL, b"\x03"),
        ("ctrl+a", None, NORMAL, b"\x01"),  # no character reported: derived from the name
        ("ctrl+space", None, NORMAL, b"\x00"),
        ("up", None, NORMAL, b"\x1b[A"),
        ("up", None, APP, b"\x1bOA"),  # DECCKM
        ("left", None, APP, b"\x1bOD"),
        ("home", None, NORMAL, b"\x1b[H"),
        ("end", None, APP, b"\x1bOF"),
        ("shift+up", None, APP, b"\x1b[1;2A"),  # modifiers: always CSI 1;m
        ("ctrl+right", None, NORMAL, b"\x1b[1;5C"),
        ("ctrl+shift+left", None, NORMAL, b"\x1b[1;6D"),
        ("pageup", None, NORMAL, b"\x1b[5~"),
        ("delete", None, NORMAL, b"\x1b[3~"),
        ("ctrl+delete", None, NORMAL, b"\x1b[3;5~"),
        ("f1", None, NORMAL, b"\x1bOP"),
        ("f5", None, NORMAL, b"\x1b[15~"),
        ("f12", None, NORMAL, b"\x1b[24~"),
        ("shift+f3", None, NORMAL, b"\x1b[1;2R"),
        ("alt+x", None, NORMAL, b"\x1bx"),
        ("alt+up", None, NORMAL, b"\x1b[1;3A"),
        ("f99", None, NORMAL, b""),
    ],
)
def test_keys(key: str, character: str | None, modes: set[int], expected: bytes) -> None:
    assert keys.encode_key(key, character, modes) == expected


def test_paste_plain_and_bracketed() -> None:
    assert keys.encode_paste("a\nb\r\nc", NORMAL) == b"a\rb\rc"
    bracketed = {int(DecMode.BRACKETED_PASTE)}
    assert keys.encode_paste("ls\n", bracketed) == b"\x1b[200~ls\r\x1b[201~"
    # an end marker inside the paste cannot close the bracket early
    evil = "x\x1b[201~rm -rf ~\n"
    assert keys.encode_paste(evil, bracketed) == b"\x1b[200~xrm -rf ~\r\x1b[201~"


def test_mouse_reports_follow_the_programs_modes() -> None:
    assert keys.mouse_tracking(NORMAL) is None
    assert keys.encode_mouse(keys.LEFT, 1, 2, NORMAL) == b""
    sgr = {int(DecMode.MOUSE_VT200), int(DecMode.MOUSE_SGR)}
    assert keys.encode_mouse(keys.LEFT, 0, 0, sgr) == b"\x1b[<0;1;1M"
    assert keys.encode_mouse(keys.LEFT, 4, 9, sgr, press=False) == b"\x1b[<0;5;10m"
    assert keys.encode_mouse(keys.WHEEL_UP, 2, 3, sgr) == b"\x1b[<64;3;4M"
    assert keys.encode_mouse(keys.RIGHT, 0, 0, sgr, ctrl=True) == b"\x1b[<18;1;1M"
    assert keys.encode_mouse(keys.LEFT, 3, 3, sgr, motion=True) == b""  # 1000: no motion
    drag = {int(DecMode.MOUSE_DRAG), int(DecMode.MOUSE_SGR)}
    assert keys.encode_mouse(keys.LEFT, 3, 3, drag, motion=True) == b"\x1b[<32;4;4M"
    assert keys.encode_mouse(keys.RELEASE, 3, 3, drag, motion=True) == b""
    classic = {int(DecMode.MOUSE_VT200)}
    assert keys.encode_mouse(keys.LEFT, 0, 0, classic) == b"\x1b[M !!"
    assert keys.encode_mouse(keys.LEFT, 0, 0, classic, press=False) == b"\x1b[M#!!"
    assert keys.encode_mouse(keys.LEFT, 300, 0, classic) == b""  # beyond the encoding
    x10 = {int(DecMode.MOUSE_X10)}
    assert keys.encode_mouse(keys.LEFT, 0, 0, x10, press=False) == b""


def test_pane_terminal_frames_offsets_and_scrollback() -> None:
    term = PaneTerminal("s1", "shell", 20, 5)
    assert term.apply(stream.Attached(0, 0, 20, 5, 1 << 20, 1)) is False
    assert term.apply(stream.Snapshot(100, 20, 5, b"\x1bcprompt$ "))
    assert term.offset == 100 and term.text()[0].rstrip() == "prompt$"
    term.take_dirty()
    term.apply(stream.Output(100, b"".join(b"\r\nline %d" % i for i in range(30))))
    assert term.offset == 100 + len(b"".join(b"\r\nline %d" % i for i in range(30)))
    assert term.text()[-1].rstrip() == "line 29"
    assert term.scroll_by(3)
    assert "".join(t for t, _ in term.line(4)).rstrip() == "line 26"
    assert term.cursor_cell() is None  # no cursor while scrolled back
    # output while scrolled back keeps the view still
    term.apply(stream.Output(term.offset or 0, b"\r\nline 30"))
    assert "".join(t for t, _ in term.line(4)).rstrip() == "line 26"
    assert term.scroll_to_live() and term.scroll == 0
    assert term.resize(10, 3) and (term.cols, term.rows) == (10, 3)
    term.apply(stream.Exit(term.offset or 0, stream.EXITED, 0))
    assert term.exit is not None and term.cursor_cell() is None


def test_qr_text_carries_every_module() -> None:
    url = "https://relay.example.net/app#pair=1.abcdefghijklmnopqrstuvwxyz0123456789"
    matrix = qr_matrix(url)
    text = qr_text(url)
    lines = text.plain.split("\n")
    assert len(lines) == (len(matrix) + 1) // 2
    assert all(len(line) == len(matrix[0]) for line in lines)
    # read the modules back from the cells' colours: upper half = fg, lower half = bg
    spans = [(span.start, span.end, span.style) for span in text.spans]
    rebuilt: list[list[bool]] = [[] for _ in range(len(lines) * 2)]
    offsets = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    for row, start in enumerate(offsets):
        for x in range(len(lines[row])):
            style = next(s for a, b, s in spans if a <= start + x < b)
            rebuilt[2 * row].append(style.color.triplet.hex == "#000000")
            rebuilt[2 * row + 1].append(style.bgcolor.triplet.hex == "#000000")
    assert rebuilt[: len(matrix)] == matrix
    assert not any(matrix[0]) and not any(row[0] for row in matrix)  # quiet zone
