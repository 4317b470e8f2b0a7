"""Hostile or broken output never crashes, hangs or grows memory."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from loopsy.terminal import Screen
from tests.unit.terminal.observe import check_invariants, observe, roundtrip

MB = 1 << 20


def grown_while(screen: Screen, chunks: list[bytes]) -> int:
    """Peak memory allocated while feeding ``chunks`` (the chunks themselves excluded)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for chunk in chunks:
            screen.feed(chunk)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_random_bytes() -> None:
    rnd = random.Random(7)
    screen = Screen(50, 20, scrollback=20)
    for _ in range(300):
        screen.feed(rnd.randbytes(rnd.randrange(1, 4000)))
        check_invariants(screen)
    assert observe(roundtrip(screen))["display"] == screen.display()


def test_random_escape_soup() -> None:
    rnd = random.Random(3)
    alphabet = b"\x1b[]?;:0123456789mHJKhlrPX@LMST\x07\\ \r\n\x08\tq(0\xe4\xb8\xad"
    screen = Screen(30, 10, scrollback=5)
    for _ in range(300):
        screen.feed(bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 400))))
        check_invariants(screen)


@pytest.mark.parametrize(
    "opening",
    [b"\x1b[", b"\x1b[?", b"\x1b]2;", b"\x1bP", b"\x1b_", b"\x1b]8;;", b"\x1b[38;2;"],
)
def test_ten_megabytes_inside_one_sequence(opening: bytes) -> None:
    screen = Screen(80, 24)
    screen.feed(b"before")
    filler = b"9" * (1 << 16) if opening.startswith(b"\x1b[") else b"x" * (1 << 16)
    grown = grown_while(screen, [opening] + [filler] * 160)
    assert grown < 2 * MB
    screen.feed(b"m\x07\x1b\\after")
    assert "after" in screen.display()[0]
    assert "before" in screen.display()[0]
    assert len(screen.title) <= 1024


def test_osc_without_terminator_then_normal_output() -> None:
    screen = Screen(40, 5)
    screen.feed(b"\x1b]2;never ends" + b"z" * 100_000)
    assert screen.title == ""
    screen.feed(b"\x07ok")
    assert screen.display()[0].startswith("ok")


@pytest.mark.parametrize(
    "sequence",
    [
        b"\x1b[99999999999999999999;99999999999999999999H",
        b"\x1b[999999999L", b"\x1b[999999999M", b"\x1b[999999999@", b"\x1b[999999999P",
        b"\x1b[999999999X", b"\x1b[999999999S", b"\x1b[999999999T", b"\x1b[999999999b",
        b"\x1b[999999999I", b"\x1b[999999999Z", b"\x1b[0;0r", b"\x1b[50;2r", b"\x1b[;;;;;;;;m",
        b"\x1b[38;5;999m", b"\x1b[38;2;999;999;999m", b"\x1b[38;2m", b"\x1b[38:2m",
        b"\x1b[4:99m", b"\x1b[?99999999h", b"\x1b[99999999 q", b"\x1b#9", b"\x1b(Z",
        b"\x1b[" + b";" * 200 + b"m",
    ],
)
def test_absurd_parameters(sequence: bytes) -> None:
    screen = Screen(20, 5, scrollback=5)
    grown = grown_while(screen, [b"x\x1b[3;3H", sequence, b"after"])
    check_invariants(screen)
    assert grown < MB
    assert "after" in "".join(screen.display())


def test_endless_combining_marks_stay_bounded() -> None:
    screen = Screen(20, 5)
    screen.feed(b"e" + "\u0301".encode() * 100_000)
    assert len(screen.display()[0]) < 40


def test_many_distinct_truecolor_styles_keep_memory_bounded() -> None:
    screen = Screen(80, 24, scrollback=100)
    rnd = random.Random(5)

    def chunk() -> bytes:
        return "".join(
            f"\x1b[38;2;{rnd.randrange(256)};{rnd.randrange(256)};{rnd.randrange(256)}mx"
            for _ in range(2000)
        ).encode()

    screen.feed(chunk())
    grown = grown_while(screen, [chunk() for _ in range(100)])
    assert grown < 8 * MB


def test_forty_resizes_during_output_keep_memory_bounded() -> None:
    screen = Screen(120, 40, scrollback=1000)
    rnd = random.Random(11)
    line = b"\x1b[32mok\x1b[0m " + b"w" * 100 + b"\r\n"
    screen.feed(line * 1500)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(40):
            screen.resize(rnd.randrange(20, 200), rnd.randrange(5, 60))
            check_invariants(screen)
            screen.feed(line * 30 + b"\x1b[?1049h" + b"alt\r\n" * 5 + b"\x1b[?1049l")
        grown = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert screen.scrollback_size <= 1000
    assert grown < 4 * MB
    check_invariants(screen)


def test_size_limits() -> None:
    with pytest.raises(ValueError):
        Screen(0, 10)
    with pytest.raises(ValueError):
        Screen(10, 100_000)
    screen = Screen(10, 10)
    with pytest.raises(ValueError):
        screen.resize(10**6, 10)
