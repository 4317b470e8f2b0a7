"""Bash's ANSI-C quoting, ``$'...'``: decode one backslash escape, so that ``$'\\x72m'``
reads as ``rm`` to the policy exactly as it does to bash.
"""

from __future__ import annotations

_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}  # fmt: skip


def decode_escape(s: str, i: int) -> tuple[str, int]:
    """Decode the escape after a backslash at ``s[i]``; returns (char, characters used)."""
    if i >= len(s):
        return "\\", 0
    c = s[i]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], 1
    for prefix, digits, base in (("x", 2, 16), ("u", 4, 16), ("U", 8, 16)):
        if c == prefix:
            run = _run(s, i + 1, digits, "0123456789abcdefABCDEF")
            if not run:
                return "\\" + c, 1
            return _chr(int(run, base)), 1 + len(run)
    if c in "01234567":
        run = _run(s, i, 3, "01234567")
        return _chr(int(run, 8) & 0xFF), len(run)
    if c == "c" and i + 1 < len(s):
        return chr(ord(s[i + 1]) & 0x1F), 2
    return "\\" + c, 1


def _run(s: str, i: int, limit: int, alphabet: str) -> str:
    end = i
    while end < len(s) and end - i < limit and s[end] in alphabet:
        end += 1
    return s[i:end]


def _chr(code: int) -> str:
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return "\ufffd"
