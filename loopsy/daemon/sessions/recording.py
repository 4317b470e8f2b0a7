"""asciinema recordings (asciicast v2) of a session's output, written by its holder.

``recording.cast`` in the session folder: a JSON header line, then one ``[time, "o",
text]`` line per output batch and ``[time, "r", "COLSxROWS"]`` per resize. When the file
passes ``max_bytes`` it is rotated (``recording.1.cast`` is the newest old one, up to
``keep`` of them): every file is a complete recording that ``asciinema play`` accepts.

Output is decoded incrementally, so a UTF-8 character split between two PTY reads is
written whole.
"""

from __future__ import annotations

import codecs
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

DEFAULT_MAX_BYTES = 50 << 20
DEFAULT_KEEP = 3
FILE_NAME = "recording.cast"


class Recorder:
    def __init__(
        self,
        directory: Path,
        cols: int,
        rows: int,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        title: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = directory / FILE_NAME
        self.max_bytes = max_bytes
        self.keep = keep
        self.title = title
        self.cols = cols
        self.rows = rows
        self._clock = clock
        self._wall = wall
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._file: IO[str] | None = None
        self._size = 0
        self._started = 0.0
        self._open()

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "w", encoding="utf-8", buffering=64 * 1024)
        self._started = self._clock()
        header: dict[str, object] = {
            "version": 2,
            "width": self.cols,
            "height": self.rows,
            "timestamp": int(self._wall()),
            "env": {"TERM": "xterm-256color"},
        }
        if self.title:
            header["title"] = self.title
        self._write(json.dumps(header) + "\n")

    def _write(self, line: str) -> None:
        assert self._file is not None
        self._file.write(line)
        self._size += len(line)  # characters, close enough to bytes for a size bound

    def _event(self, code: str, text: str) -> None:
        if self._file is None:
            return
        elapsed = round(self._clock() - self._started, 6)
        self._write(json.dumps([elapsed, code, text], ensure_ascii=False) + "\n")
        if self._size >= self.max_bytes:
            self._rotate()

    def output(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self._event("o", text)

    def resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self._event("r", f"{cols}x{rows}")

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is None:
            return
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._event("o", tail)
        self._file.close()
        self._file = None

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        for index in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"recording.{index}.cast")
            if older.exists():
                os.replace(older, self.path.with_name(f"recording.{index + 1}.cast"))
        if self.keep > 0:
            os.replace(self.path, self.path.with_name("recording.1.cast"))
        self._size = 0
        self._open()
