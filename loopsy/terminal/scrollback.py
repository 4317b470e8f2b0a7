"""The lines that scrolled off the top of the main screen, oldest first, with wrap flags.

A line's wrap flag says it continues the line before it (the program's text ran past the
right margin and auto-wrapped), as xterm.js's ``isWrapped``: copy, selection and reflow on
resize join such lines instead of breaking them. Flags sit in a second deque of the same
bound, pushed and dropped with their lines, so plain lines stay bare ``str``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

from loopsy.terminal.lines import Stored


class Scrollback:
    """A bounded history of stored lines and their wrap flags."""

    __slots__ = ("lines", "wraps")

    def __init__(self, maxlen: int) -> None:
        self.lines: deque[Stored] = deque(maxlen=maxlen)
        self.wraps: deque[int] = deque(maxlen=maxlen)  # 1: the line continues the one before

    @property
    def maxlen(self) -> int:
        return self.lines.maxlen or 0

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[Stored]:
        return iter(self.lines)

    def __getitem__(self, index: int) -> Stored:
        return self.lines[index]

    def push(self, line: Stored, wrapped: bool) -> None:
        self.lines.append(line)
        self.wraps.append(wrapped)

    def extend(self, lines: Sequence[Stored], flags: bytes | bytearray) -> None:
        """Add ``lines`` and their wrap flags (a byte each, 1 for a line that continues the
        line before it): a deque takes both at C speed."""
        self.lines.extend(lines)
        self.wraps.extend(flags)

    def clear(self) -> None:
        self.lines.clear()
        self.wraps.clear()

    def wrapped(self, index: int) -> bool:
        """True when line ``index`` (0 the oldest) continues the line before it. The
        oldest line kept continues nothing: whatever it continued has been dropped."""
        return index > 0 and bool(self.wraps[index])

    def flags(self) -> list[bool]:
        """Every line's :meth:`wrapped`, oldest first."""
        flags = list(map(bool, self.wraps))
        if flags:
            flags[0] = False
        return flags
