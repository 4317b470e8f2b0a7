"""The detach key of ``loopsy shell``: **Ctrl-] then d**.

Ctrl-] (0x1d) starts a key sequence, like telnet's escape: ``d`` then detaches, a second
Ctrl-] sends one literal Ctrl-], and any other key sends both keys on to the session (so
vim's Ctrl-] still works, one key later). Pure: bytes in, bytes out.
"""

from __future__ import annotations

PREFIX = 0x1D
DETACH = ord("d")
HELP = "Ctrl-] d"


class DetachKeys:
    def __init__(self) -> None:
        self._armed = False

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """What to send to the session, and whether the user asked to detach (whatever
        follows the detach key in ``data`` is dropped)."""
        out = bytearray()
        for byte in data:
            if self._armed:
                self._armed = False
                if byte == DETACH:
                    return bytes(out), True
                if byte == PREFIX:
                    out.append(PREFIX)
                else:
                    out += bytes((PREFIX, byte))
            elif byte == PREFIX:
                self._armed = True
            else:
                out.append(byte)
        return bytes(out), False
