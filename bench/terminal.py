"""Micro-benchmarks of the headless terminal (loopsy.terminal.Screen).

    python bench/terminal.py            # full run (~1 minute)
    python bench/terminal.py --quick    # smoke run

Feed throughput for plain text (the fast path) and for escape-heavy repaints, memory of a
200x50 screen with 1,000 lines of scrollback (tracemalloc, and the PSS of a process that
holds one), and snapshot size and time. pyte, the usual Python choice, is measured beside
it on the same inputs for scale. Figures go to docs/BENCHMARKS.md, "Terminal emulator".
"""

from __future__ import annotations

import argparse
import base64
import gc
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loopsy.terminal import Screen  # noqa: E402
from tests.unit.terminal.streams import agent_repaint  # noqa: E402

CAPTURES = ROOT / "tests" / "unit" / "terminal" / "captures"
COLS, ROWS, HISTORY = 200, 50, 1000


def base64_payload(size: int) -> bytes:
    """What `cat` of a base64 file sends through a PTY: 76-char lines ending CR LF."""
    return base64.encodebytes(random.Random(1).randbytes(size * 3 // 4)).replace(b"\n", b"\r\n")


def log_payload(size: int) -> bytes:
    """A log: lines of 20-260 characters (some wrap at 200 columns), plain text."""
    rnd = random.Random(2)
    words = ["INFO", "request", "GET", "/api/v1/sessions", "200", "took", "3ms", "user=alice",
             "id=4f2a", "cache", "miss", "retrying", "connection", "reset", "by", "peer"]
    lines = []
    total = 0
    while total < size:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randrange(3, 40)))
        lines.append(line)
        total += len(line) + 2
    return ("\r\n".join(lines) + "\r\n").encode()


def coloured_log(lines: int) -> bytes:
    return "".join(
        f"\x1b[2m2025-01-01 12:00:{i % 60:02}\x1b[0m \x1b[32mINFO\x1b[0m worker-{i % 7} "
        f"processed batch {i} in \x1b[1m{i % 97}ms\x1b[0m {'detail ' * (i % 12)}\r\n"
        for i in range(lines)
    ).encode()


def repaints(count: int) -> bytes:
    return b"".join(agent_repaint(COLS, ROWS, seed) for seed in range(count))


def feed_rate(make: Callable[[], object], data: bytes, chunk: int, seconds: float) -> float:
    """MB/s of input; feeds the data in ``chunk``-byte pieces, repeating for ``seconds``."""
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    rates = []
    deadline = time.perf_counter() + seconds
    while True:
        screen = make()
        feed = screen.feed  # type: ignore[attr-defined]
        start = time.perf_counter()
        for piece in pieces:
            feed(piece)
        rates.append(len(data) / (time.perf_counter() - start) / 1e6)
        if time.perf_counter() > deadline or len(rates) >= 20:
            return statistics.median(rates)


class _Pyte:
    """pyte with history, fed bytes the way a holder would use it."""

    def __init__(self) -> None:
        import pyte

        self.screen = pyte.HistoryScreen(COLS, ROWS, history=HISTORY)
        self.stream = pyte.ByteStream(self.screen)

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)


def traced_size(build: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    tracemalloc.start()
    try:
        obj = build()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] / 1e6, obj
    finally:
        tracemalloc.stop()


_PSS_CHILD = """
import sys
sys.path.insert(0, {root!r})
from loopsy.terminal import Screen
from bench.terminal import coloured_log
s = Screen(200, 50, scrollback=1000)
{fill}
for line in open('/proc/self/smaps_rollup'):
    if line.startswith('Pss:'):
        print(int(line.split()[1]))
"""


def process_pss_mb(fill: str) -> float:
    code = _PSS_CHILD.format(root=str(ROOT), fill=fill)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--quick", action="store_true", help="small inputs, short runs")
    parser.add_argument("--no-pyte", action="store_true", help="skip the pyte comparison")
    args = parser.parse_args()
    size = 2_000_000 if args.quick else 20_000_000
    seconds = 0.5 if args.quick else 4.0

    def make() -> Screen:
        return Screen(COLS, ROWS, scrollback=HISTORY)

    print(f"# loopsy.terminal micro-benchmarks ({COLS}x{ROWS}, {HISTORY} lines of history)\n")
    print("| input | feed size | loopsy MB/s | pyte MB/s |")
    print("|---|---|---|---|")
    b64 = base64_payload(size)
    log = log_payload(size)
    agent = repaints(4 if args.quick else 40)
    captured = b"".join((CAPTURES / f"{n}.bin").read_bytes() for n in ("vim", "top", "less"))
    cases = [
        ("base64 lines (cat)", b64, 4096), ("base64 lines (cat)", b64, 65536),
        ("log, some lines wrap", log, 4096), ("log, some lines wrap", log, 65536),
        ("coloured log", coloured_log(20000 if not args.quick else 2000), 4096),
        (f"agent repaint ({len(agent) // max(1, agent.count(b'[?2026h')) // 1000} KB, "
         "truecolor + wide)", agent, 4096),
        ("vim + top + less captures (80x24 apps)", captured * (3 if args.quick else 20), 4096),
    ]
    for name, data, chunk in cases:
        ours = feed_rate(make, data, chunk, seconds)
        theirs = "–"
        if not args.no_pyte:
            pyte_data = data[: max(chunk, len(data) // (50 if "base64" in name else 10))]
            try:
                theirs = f"{feed_rate(_Pyte, pyte_data, chunk, seconds / 2):.2f}"
            except TypeError:  # pyte 0.8 raises on private SGR (CSI > 4;1 m, from vim)
                theirs = "raises"
        print(f"| {name} | {chunk // 1024} KB | {ours:.1f} | {theirs} |")

    print("\n| memory (tracemalloc), 200x50 + 1,000 lines | loopsy MB | pyte MB |")
    print("|---|---|---|")
    fills = {
        "base64 text": base64_payload(200_000),
        "coloured log": coloured_log(1200),
        "agent repaints on alt screen over a coloured log": coloured_log(1200)
        + b"\x1b[?1049h" + repaints(3),
    }
    for name, data in fills.items():
        def ours_build(data: bytes = data) -> object:
            screen = make()
            screen.feed(data)
            return screen

        def pyte_build(data: bytes = data) -> object:
            screen = _Pyte()
            screen.feed(data)
            return screen

        ours_mb, _ = traced_size(ours_build)
        theirs_mb = "–" if args.no_pyte else f"{traced_size(pyte_build)[0]:.1f}"
        print(f"| {name} | {ours_mb:.2f} | {theirs_mb} |")

    bare = process_pss_mb("")
    full = process_pss_mb("s.feed(coloured_log(1200))")
    print(f"\nProcess PSS: python + loopsy.terminal, empty screen {bare:.1f} MB; "
          f"with the coloured log screen {full:.1f} MB.")

    screen = make()
    screen.feed(coloured_log(1200))
    screen.feed(agent_repaint(COLS, ROWS, 1))
    times = []
    snap = b""
    for _ in range(5 if args.quick else 30):
        start = time.perf_counter()
        snap = screen.snapshot()
        times.append((time.perf_counter() - start) * 1000)
    restore = []
    for _ in range(5 if args.quick else 30):
        start = time.perf_counter()
        make().feed(snap)
        restore.append((time.perf_counter() - start) * 1000)
    print(f"Snapshot of a 200x50 agent screen over 1,000 lines of coloured log: "
          f"{len(snap) / 1024:.0f} KB, {statistics.median(times):.1f} ms to make, "
          f"{statistics.median(restore):.1f} ms to feed into a fresh Screen.")


if __name__ == "__main__":
    main()
