"""Hypothesis strategies for VT output, and synthetic program outputs."""

from __future__ import annotations

import random

from hypothesis import strategies as st

_WORDS = ["a", "hello", "x y", "中文", "😀", "e\u0301", "│─┼", "⏺ done", "  ", "ab" * 30]
_MODES = [1, 5, 6, 7, 9, 25, 47, 66, 1000, 1002, 1003, 1004, 1006, 1047, 1048, 1049, 2004]


def _sgr(draw: st.DrawFn) -> str:
    choices = [
        "0", "1", "2", "3", "4", "7", "9", "22", "24", "27", "31", "42", "93", "104", "39", "49",
        f"38;5;{draw(st.integers(0, 255))}",
        f"48;2;{draw(st.integers(0, 255))};{draw(st.integers(0, 255))};9",
        "38:2::1:2:3", "4:3", "",
    ]
    picked = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3))
    return "\x1b[" + ";".join(picked) + "m"


@st.composite
def vt_token(draw: st.DrawFn) -> str:
    n = draw(st.integers(0, 30))
    kind = draw(st.integers(0, 31))
    if kind < 8:
        return draw(st.sampled_from(_WORDS))
    return [
        lambda: "\r", lambda: "\n", lambda: "\r\n", lambda: "\b", lambda: "\t",
        lambda: _sgr(draw), lambda: f"\x1b[{n};{draw(st.integers(0, 30))}H",
        lambda: f"\x1b[{n}{draw(st.sampled_from('ABCDEFGIZ`abde'))}",
        lambda: f"\x1b[{draw(st.integers(0, 3))}{draw(st.sampled_from('JK'))}",
        lambda: f"\x1b[{n}{draw(st.sampled_from('LMPX@ST'))}",
        lambda: f"\x1b[{n};{draw(st.integers(0, 30))}r",
        lambda: f"\x1b[?{draw(st.sampled_from(_MODES))}{draw(st.sampled_from('hl'))}",
        lambda: f"\x1b[{draw(st.sampled_from([4, 20]))}{draw(st.sampled_from('hl'))}",
        lambda: "\x1b" + draw(st.sampled_from(["7", "8", "D", "E", "M", "H", "=", ">", "(0",
                                              "(B", ")0", "#8"])),
        lambda: draw(st.sampled_from(["\x0e", "\x0f", "\x1b[3g", "\x1b[g", "\x1b[s", "\x1b[u"])),
        lambda: f"\x1b]2;title {n}\x07",
        lambda: f"\x1b[{draw(st.integers(0, 6))} q",
        lambda: "\x1b[!p",
        lambda: "\x1b[b",
        lambda: "qqxx",
        lambda: "\x1bc" if n == 0 else "z",
        lambda: draw(st.sampled_from(["\x1b[2J\x1b[3J", "\x1b[1;1H\x1b[K", "\x1b[?25l"])),
        lambda: ("line of plain text\r\n" * 40) if n == 1 else "w",
        lambda: draw(st.text(max_size=6)),
    ][kind - 8]()


vt_stream = st.lists(vt_token(), max_size=60).map("".join)


@st.composite
def styled_token(draw: st.DrawFn) -> str:
    """Mostly SGR runs with text after them (what rows written in colours are made of),
    and what interrupts them: cursor moves, erases with a background, line ends, charsets,
    wide characters and combining marks, a cut sequence."""
    kind = draw(st.integers(0, 15))
    if kind < 8:
        runs = "".join(_sgr(draw) for _ in range(draw(st.integers(1, 2))))
        prefix = "\x1b(B" if kind == 0 else ""
        return prefix + runs + draw(st.sampled_from([*_WORDS, "", "x", "abc def "]))
    n = draw(st.integers(0, 14))
    return [
        lambda: f"\x1b[{n};{draw(st.integers(0, 14))}H",
        lambda: f"\x1b[{n}G",
        lambda: f"\x1b[{draw(st.sampled_from(['', '41;', '0;']))}{draw(st.integers(0, 2))}K",
        lambda: f"\x1b[48;5;{n}m\x1b[{n}X",
        lambda: "\r\n",
        lambda: draw(st.sampled_from(["\x1b(0", "\x1b)0", "\x0e", "\x0f", "\x1b[4h", "\x1b[4l",
                                      "\x1b[2b"])),
        lambda: draw(st.sampled_from(["\x1b[?7l", "\x1b[?7h", "\x1b[?1049h", "\x1b[?1049l"])),
        lambda: draw(st.sampled_from(["e\u0301", "\udcff", "\x1b[38;2", "q"])),
    ][kind - 8]()


styled_stream = st.lists(styled_token(), max_size=40).map("".join)


def agent_repaint(width: int, height: int, seed: int) -> bytes:
    """A Claude-Code-like full repaint: truecolor, box drawing, wide characters, a status
    bar with a background, the cursor parked in an input box."""
    rnd = random.Random(seed)
    # A theme's worth of colours, as agents use, plus one arbitrary colour per row.
    palette = [(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)) for _ in range(24)]
    out = ["\x1b[?2026h\x1b[?25l\x1b[H"]
    words = ["Read", "file", "⏺", "Update(", "loopsy/terminal.py", ")", "中文", "😀", "✓",
             "def", "return", "│", "  ", "…"]
    for y in range(height - 3):
        out.append(f"\x1b[{y + 1};1H\x1b[2K")
        x = 0
        palette[y % 24] = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        while x < width - 12:
            r, g, b = rnd.choice(palette)
            word = rnd.choice(words) + " "
            out.append(f"\x1b[38;2;{r};{g};{b}m{word}")
            x += len(word) + sum(1 for ch in word if ord(ch) > 0x2e80)
        out.append("\x1b[0m")
    out.append(f"\x1b[{height - 2};1H\x1b[38;2;80;80;80m╭" + "─" * (width - 2) + "╮")
    out.append(f"\x1b[{height - 1};1H│\x1b[0m > typing here\x1b[{width}G\x1b[38;2;80;80;80m│")
    out.append(f"\x1b[{height};1H\x1b[48;5;236m\x1b[38;5;250m ? for shortcuts\x1b[K\x1b[0m")
    out.append(f"\x1b[{height - 1};16H\x1b[?25h\x1b[?2026l")
    return "".join(out).encode()
