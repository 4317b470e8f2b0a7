"""What bench/pty.py measures, independent of the transport: the workloads (shell commands
run in the session), and sans-I/O recorders that the transports' drivers feed."""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

END_MARKER = b"#END#"
EXIT_LINES = 260_000
EXIT_LINE = b"x" * 77 + b"\n"  # 78 bytes: 260,000 lines are 20.28 MB, as in BENCH-NOTES


@dataclass
class Workloads:
    """The payload files and the commands that print them."""

    directory: Path
    payload_bytes: int

    def prepare(self) -> None:
        payload = self.directory / "payload.b64"
        if not payload.exists() or payload.stat().st_size != self.payload_bytes:
            raw_size = self.payload_bytes // 77 * 57  # base64: 57 bytes per 76-char line
            with payload.open("wb") as out:
                for start in range(0, raw_size, 57 * 100_000):
                    out.write(base64.encodebytes(os.urandom(min(57 * 100_000, raw_size - start))))
            self.payload_bytes = payload.stat().st_size
        (self.directory / "exit.txt").write_bytes(EXIT_LINE * EXIT_LINES)

    @property
    def throughput_command(self) -> str:
        return f"cat {self.directory}/payload.b64; printf '\\n#END#'; exec sleep 120"

    @property
    def throughput_expected(self) -> int:
        """Bytes across the PTY: every LF becomes CR LF (onlcr), then CR LF #END#."""
        lines = (self.directory / "payload.b64").read_bytes().count(b"\n")
        return self.payload_bytes + lines + 2 + len(END_MARKER)

    @property
    def exit_command(self) -> str:
        return f"cat {self.directory}/exit.txt"

    @property
    def exit_expected(self) -> int:
        return EXIT_LINES * (len(EXIT_LINE) + 1)

    echo_command = "stty raw -echo; printf READY; exec cat"


@dataclass
class Throughput:
    """Counts bytes until the end marker; times from the first byte."""

    opened: float = field(default_factory=time.perf_counter)
    first: float | None = None
    end: float | None = None
    received: int = 0
    _tail: bytes = b""

    def feed(self, data: bytes) -> bool:
        """Take ``data``; True once the end marker has arrived."""
        if not data:
            return self.end is not None
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.received += len(data)
        window = self._tail + data
        if END_MARKER in window:
            self.end = now
            return True
        self._tail = window[-len(END_MARKER):]
        return False

    @property
    def mb_per_s(self) -> float:
        assert self.first is not None and self.end is not None
        return self.received / (self.end - self.first) / 1e6

    @property
    def first_byte_ms(self) -> float:
        assert self.first is not None
        return (self.first - self.opened) * 1000


@dataclass
class Result:
    transport: str
    mb_per_s: float | None = None
    first_byte_ms: float | None = None
    exact: bool | None = None
    lost_at_exit: int | None = None
    echo_p50_us: float | None = None
    echo_p99_us: float | None = None
    cpu_s_per_100mb: float | None = None
    note: str = ""


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (those gone count as 0)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def descendants(root: int, exclude: frozenset[str] = frozenset()) -> list[int]:
    """``root`` and its descendants, skipping processes whose name is in ``exclude``."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
        names[int(entry.name)] = name
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if names.get(pid) not in exclude:
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


WORKLOAD_NAMES = frozenset({"sh", "cat", "sleep", "stty", "bash"})
