"""The bounded byte ring of a session's recent output, addressed by stream offset.

Chunks are kept as the PTY gave them (no copy on append); tiny chunks are merged so a
keystroke-at-a-time session cannot fill memory with per-chunk overhead. The ring may
hold more than ``capacity`` until :meth:`trim` is allowed to drop bytes (the holder trims
only what the screen emulator has already consumed).
"""

from __future__ import annotations

from collections import deque

MERGE_BELOW = 4096


class Ring:
    def __init__(self, capacity: int, start: int = 0) -> None:
        if capacity <= 0:
            raise ValueError("ring capacity must be positive")
        self.capacity = capacity
        self._chunks: deque[bytes] = deque()
        self._start = start  # offset of the first byte of _chunks[0]
        self._size = 0

    @property
    def start(self) -> int:
        """Oldest offset still held."""
        return self._start

    @property
    def end(self) -> int:
        """Offset of the next byte to be appended."""
        return self._start + self._size

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes) -> None:
        if not data:
            return
        chunks = self._chunks
        if chunks and len(chunks[-1]) < MERGE_BELOW and len(data) < MERGE_BELOW:
            chunks[-1] = chunks[-1] + data
        else:
            chunks.append(data)
        self._size += len(data)

    def trim(self, keep_from: int | None = None) -> None:
        """Drop whole chunks from the front while over capacity, never past ``keep_from``."""
        chunks = self._chunks
        limit = self.end if keep_from is None else keep_from
        while chunks and self._size - len(chunks[0]) >= self.capacity:
            first = len(chunks[0])
            if self._start + first > limit:
                break
            chunks.popleft()
            self._start += first
            self._size -= first

    def over_capacity(self) -> int:
        return max(0, self._size - self.capacity)

    def read(self, offset: int, limit: int) -> bytes:
        """Up to ``limit`` bytes from ``offset`` (which must be within the ring)."""
        if offset < self._start or offset > self.end:
            raise IndexError(f"offset {offset} is outside the ring [{self._start}, {self.end}]")
        want = min(limit, self.end - offset)
        if want <= 0:
            return b""
        parts: list[bytes] = []
        # Readers are almost always near the end: walk from the back to find the chunk.
        position = self.end
        index = len(self._chunks)
        while position > offset:
            index -= 1
            position -= len(self._chunks[index])
        skip = offset - position
        remaining = want
        while remaining > 0:
            chunk = self._chunks[index]
            piece = chunk[skip : skip + remaining] if (skip or remaining < len(chunk)) else chunk
            parts.append(piece)
            remaining -= len(piece)
            skip = 0
            index += 1
        return parts[0] if len(parts) == 1 else b"".join(parts)
