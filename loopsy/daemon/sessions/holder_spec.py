"""What a holder is told to run (the spec), and the metadata file it keeps beside its
socket (``meta.json``), which the daemon reads when it cannot reach the holder.

Standard library only (the holder imports it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopsy.home import write_atomic

if TYPE_CHECKING:
    from loopsy.daemon.sessions.holder import Holder

SOCKET_NAME = "h.sock"
META_NAME = "meta.json"
LOG_NAME = "holder.log"


@dataclass(frozen=True)
class HolderSpec:
    id: str
    directory: Path
    argv: list[str]
    cwd: str
    env: dict[str, str] = field(repr=False)
    cols: int = 80
    rows: int = 24
    name: str = ""
    ring_bytes: int = 1 << 20
    scrollback: int = 1000
    high: int = 256 * 1024
    low: int = 64 * 1024
    debounce: float = 0.05
    record: bool = False
    record_max: int = 50 << 20
    start_offset: int = 0

    @property
    def socket_path(self) -> Path:
        return self.directory / SOCKET_NAME

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["directory"] = str(self.directory)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HolderSpec:
        fields = dict(data)
        fields["directory"] = Path(fields["directory"])
        return cls(**fields)


def write_meta(holder: Holder) -> None:
    """Record the session as the holder sees it, atomically (never half-written)."""
    spec = holder.spec
    meta = {
        "version": 1,
        "id": spec.id,
        "holder_pid": os.getpid(),
        "child_pid": holder.child.pid,
        "argv": spec.argv,
        "cwd": spec.cwd,
        "cols": holder.cols,
        "rows": holder.rows,
        "start_offset": spec.start_offset,
        "state": "exited" if holder.finished else "running",
        "exit": holder.exit_record() if holder.finished else None,
    }
    write_atomic(spec.directory / META_NAME, json.dumps(meta, indent=1) + "\n")


def read_meta(directory: Path) -> dict[str, Any] | None:
    """The holder's metadata, or None if it is missing or unreadable."""
    try:
        data = json.loads((directory / META_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
