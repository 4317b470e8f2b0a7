"""Split decoded terminal output into text runs, controls and escape sequences.

The parser keeps what it needs between calls (an escape sequence cut by a read boundary)
and nothing more: sequences longer than the limits below are discarded as they stream in,
so a hostile program cannot grow memory by never finishing one.
"""

from __future__ import annotations

import re
from typing import Protocol

# Longest CSI (parameters included) and OSC body kept; longer ones are dropped. xterm's
# own limits are of the same order; no real program sends a longer title or CSI.
MAX_CSI = 256
MAX_STRING = 4096

# Coloured output is mostly SGR, text, SGR, text up to a line end or a cursor move: one
# match takes all of it (a "styled block": SGR runs, each with the text after it; ncurses
# writes "ESC ( B ESC [ m" to reset). The first run and text come as groups, the rest of
# the block as one string that the screen splits with STYLED_PAIRS at C speed.
_SGR_RUN = r"(?:\x1b\(B)?(?:\x1b\[[0-9;:]*m)+"
_TEXT = r"[^\x00-\x1f\x7f-\x9f]"
_TOKEN = re.compile(
    rf"({_SGR_RUN})({_TEXT}*)((?:{_SGR_RUN}{_TEXT}*)*)"  # 1, 2, 3: a styled block
    rf"|({_TEXT}+)"                         # 4: printable text
    r"|\x1b\[([0-?]*)([ -/]*)([@-~])"      # 5, 6, 7: CSI parameters, intermediates, final
    r"|(\r\n)"                              # 8: the commonest pair of controls
    r"|([\x00-\x1a\x1c-\x1f\x7f-\x9f])"    # 9: a single control other than ESC
    r"|\x1b([ -/]*)([0-OQ-WYZ\\`-~])"      # 10, 11: ESC sequence (not CSI/OSC/DCS/...)
)
#: A styled block's (SGR run, text) pairs.
STYLED_PAIRS = re.compile(f"({_SGR_RUN})({_TEXT}*)")
_CSI_PARTIAL = re.compile(r"\x1b\[[0-?]*[ -/]*\Z")
_CSI_PREFIX = re.compile(r"\x1b\[[0-?]*[ -/]*")
_ESC_PARTIAL = re.compile(r"\x1b[ -/]*\Z")
_STRING_END = re.compile(r"[\x07\x18\x1a\x1b\x9c]")
_CSI_END = re.compile(r"[^ -?]")
_STRING_INTRODUCERS = "]PX^_"
# Printable text, CR and LF: after a CR LF, a run of this at least MIN_PLAIN long goes to
# the handler's plain-text fast path in one piece.
_PLAIN = re.compile(r"[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]*")
MIN_PLAIN = 512


class Handler(Protocol):
    """What the parser drives (the screen)."""

    def print_text(self, text: str) -> None: ...
    def styled(self, run: str, text: str, rest: str) -> None: ...
    def crlf(self) -> None: ...
    def plain(self, text: str) -> None: ...
    def control(self, char: str) -> None: ...
    def csi(self, params: str, intermediates: str, final: str) -> None: ...
    def esc(self, intermediates: str, final: str) -> None: ...
    def osc(self, body: str) -> None: ...


class Parser:
    """Incremental tokenizer over already-decoded text."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._pending = ""
        # While dropping an over-long sequence: "csi" or "string"; else None.
        self._skipping: str | None = None

    def reset(self) -> None:
        self._pending = ""
        self._skipping = None

    @property
    def pending(self) -> str:
        """The unfinished sequence kept for the next call."""
        return self._pending

    @property
    def idle(self) -> bool:
        """True when no escape sequence is open (the next byte starts a new token)."""
        return not self._pending and self._skipping is None

    def feed(self, text: str) -> None:
        if self._pending:
            text = self._pending + text
            self._pending = ""
        pos = 0
        if self._skipping is not None:
            pos = self._skip(text, 0)
        handler = self._handler
        print_text = handler.print_text
        styled = handler.styled
        csi = handler.csi
        control = handler.control
        crlf = handler.crlf
        match = _TOKEN.match
        end = len(text)
        while pos < end:
            m = match(text, pos)
            if m is None:
                pos = self._escape(text, pos)
                continue
            kind = m.lastindex
            pos = m.end()
            if kind == 3:
                styled(*m.group(1, 2, 3))
            elif kind == 4:
                print_text(m.group(4))
            elif kind == 7:
                csi(*m.group(5, 6, 7))
            elif kind == 8:
                crlf()
                if end - pos >= MIN_PLAIN:
                    run_end = _PLAIN.match(text, pos).end()  # type: ignore[union-attr]
                    if run_end - pos >= MIN_PLAIN:
                        handler.plain(text[pos:run_end])
                        pos = run_end
            elif kind == 9:
                control(m.group(9))
            else:
                handler.esc(*m.group(10, 11))

    def _escape(self, text: str, pos: int) -> int:
        """Handle an ESC the token pattern did not match; return where to go on."""
        rest = len(text) - pos
        if rest == 1:
            self._pending = text[pos:]
            return len(text)
        second = text[pos + 1]
        if second in _STRING_INTRODUCERS:
            return self._string(text, pos)
        if second == "[":
            if _CSI_PARTIAL.match(text, pos):
                if rest <= MAX_CSI:
                    self._pending = text[pos:]
                else:
                    self._skipping = "csi"
                return len(text)
            # Malformed CSI: drop what was read of it, go on at the offending character.
            prefix = _CSI_PREFIX.match(text, pos)
            assert prefix is not None
            return prefix.end()
        if _ESC_PARTIAL.match(text, pos):
            if rest <= MAX_CSI:
                self._pending = text[pos:]
            return len(text)
        # ESC followed by something that starts no sequence: xterm ignores the ESC.
        return pos + 1

    def _string(self, text: str, pos: int) -> int:
        """OSC, DCS, SOS, PM, APC: a body up to BEL or ST (ESC \\)."""
        found = _STRING_END.search(text, pos + 2)
        if found is None:
            if len(text) - pos <= MAX_STRING:
                self._pending = text[pos:]
            else:
                self._skipping = "string"
            return len(text)
        stop = found.start()
        terminator = text[stop]
        if terminator == "\x1b":
            if stop + 1 == len(text):
                # Cannot tell ST from an aborting ESC yet: keep the whole sequence.
                if len(text) - pos <= MAX_STRING:
                    self._pending = text[pos:]
                    return len(text)
                self._skipping = "string"
                return stop
            after = stop + 2 if text[stop + 1] == "\\" else stop
        else:
            after = stop + 1
        if text[pos + 1] == "]" and terminator in "\x07\x1b\x9c":
            self._handler.osc(text[pos + 2:stop])
        return after

    def _skip(self, text: str, pos: int) -> int:
        """Drop the rest of an over-long sequence; return where normal parsing resumes."""
        if self._skipping == "csi":
            found = _CSI_END.search(text, pos)
            if found is None:
                return len(text)
            self._skipping = None
            # A final byte ends the CSI silently; anything else is processed normally.
            return found.end() if "@" <= text[found.start()] <= "~" else found.start()
        found = _STRING_END.search(text, pos)
        if found is None:
            return len(text)
        self._skipping = None
        stop = found.start()
        if text[stop] == "\x1b":
            if stop + 1 < len(text) and text[stop + 1] == "\\":
                return stop + 2
            return stop
        return stop + 1
