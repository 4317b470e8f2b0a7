"""Fast path for long runs of plain text (``cat`` of a log, base64, compiler output).

When the cursor sits on a blank bottom row at column 0, with nothing that could bend the
usual semantics (scroll region, insert or newline mode, a graphics charset, a coloured pen),
printing ``line\\r\\n`` repeatedly just appends rows to the screen-plus-history tape. So a
block of such lines is applied with list operations: the text is split once, the screen
keeps the last rows as plain ``str`` rows, and the history deque (which has a maximum
length) keeps the latest lines. Nothing is skipped that could still be seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from loopsy.terminal.controls import carriage_return, linefeed_control
from loopsy.terminal.lines import Stored, store
from loopsy.terminal.style import DEFAULT

if TYPE_CHECKING:
    from loopsy.terminal.screen import Screen

_PRINTABLE = bytes(range(0x20, 0x7F))

def feed_plain(screen: Screen, text: str) -> None:
    """Apply ``text`` (printable characters, CR and LF only)."""
    first = text.find("\n")
    last = text.rfind("\n")
    if first == last:
        _slow(screen, text)
        return
    # The first line finishes wherever the cursor was; the block starts on a fresh row.
    _slow(screen, text[:first + 1])
    # Above the bottom row (a fresh or cleared screen), lines go one by one until the
    # cursor reaches it: at most a screenful.
    start = first + 1
    for _ in range(screen.rows):
        if screen.y >= screen.rows - 1 or start > last:
            break
        end = text.find("\n", start) + 1
        _slow(screen, text[start:end])
        start = end
    if start > last:
        _slow(screen, text[start:])
        return
    if _can_append(screen):
        # Lines that scroll past the screen and the whole scrollback can never be seen.
        seen = screen.rows + screen.history.maxlen
        block = _block_rows(text[start:last + 1], screen.cols, screen.autowrap, seen)
        if block is not None:
            _append(screen, *block)
            _slow(screen, text[last + 1:])
            return
    _slow(screen, text[start:])


def _can_append(screen: Screen) -> bool:
    page = screen.page
    return (
        screen.x == 0
        and not screen.wrap_pending
        and screen.y == screen.rows - 1
        and page.top == 0
        and page.bottom == screen.rows - 1
        and page.lines[-1] == ""
        and not page.wrapped[-1]
        and screen.pen == DEFAULT
        and not screen.insert
        and not screen.newline
        and screen._table is None
    )


def _block_rows(
    block: str, cols: int, autowrap: bool, seen: int
) -> tuple[list[str], bytes | bytearray] | None:
    """The rows that ``block`` fills if it is a sequence of ``text\r\n`` lines, and their
    wrap flags (a byte each: 1 for a row that continues the row before it). Of a block of
    more than ``seen`` lines only the last ``seen`` are split (each fills a row or more,
    so the rows of the lines before them scroll out of sight)."""
    if not block.isascii() or not block.endswith("\r\n"):
        return None
    # Its CRs and LFs, in order (one pass at C speed): they must all be CR LF pairs.
    controls = block.encode("ascii").translate(None, _PRINTABLE)
    newlines = len(controls) // 2
    if controls != b"\r\n" * newlines:
        return None  # some CR or LF stands alone
    lines = block.rsplit("\r\n", seen + 1)[-seen - 1:-1]  # the last ``seen`` lines, or all
    if max(map(len, lines)) <= cols:
        return lines, bytes(len(lines))
    if not autowrap:
        return None
    # A longer line wraps: full rows of ``cols``, then the rest (a pending wrap at the
    # very end of a line is cancelled by its CR, so no empty row follows an exact fit).
    # Every row after a line's first continues the one before.
    rows: list[str] = []
    flags = bytearray()
    for line in lines:
        if len(line) <= cols:
            rows.append(line)
            flags.append(0)
        else:
            pieces = (len(line) + cols - 1) // cols
            rows += [line[i:i + cols] for i in range(0, len(line), cols)]
            flags.append(0)
            flags += b"\x01" * (pieces - 1)
    return rows, flags


def _append(screen: Screen, rows: list[str], flags: bytes | bytearray) -> None:
    """The effect of printing each row then CR LF, from a blank bottom row; ``flags`` are
    the rows' wrap flags."""
    page = screen.page
    lines = page.lines
    height = len(lines)
    old = lines[:-1]
    old_wraps = page.wrapped[:-1]
    count = len(rows)
    if page is screen.main:
        history = screen.history
        keep = history.maxlen
        # Pushed out, oldest first: the old rows above the cursor, then the new rows but
        # the last height - 1 (+ the fresh blank row the cursor ends on).
        old_pushed = old[:count]
        new_pushed = max(0, count - (height - 1))
        first_kept = max(0, len(old_pushed) - max(0, keep - new_pushed))
        kept = old_pushed[first_kept:]
        old_kept: list[Stored] = (
            [store(line) for line in kept] if set(map(type, kept)) - {str}
            else cast(list[Stored], kept)
        )
        start = max(0, new_pushed - keep)
        history.extend(old_kept, old_wraps[first_kept:len(old_pushed)])
        history.extend(rows[start:new_pushed], flags[start:new_pushed])
    tape = old + rows
    tape.append("")
    cut = len(tape) - height
    lines[:] = tape[cut:]
    tape_wraps = old_wraps + flags
    tape_wraps.append(0)
    page.wrapped[:] = tape_wraps[cut:]
    screen.last_char = rows[-1][-1:] or screen.last_char
    screen.mark_all_dirty()


def _slow(screen: Screen, text: str) -> None:
    """Character-exact processing of printable text, CR and LF."""
    pieces = text.split("\n")
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        if piece:
            parts = piece.split("\r")
            for j, part in enumerate(parts):
                if j:
                    carriage_return(screen)
                if part:
                    screen.print_text(part)
        if i < last:
            linefeed_control(screen)
