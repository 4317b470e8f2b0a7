"""PTY session benchmark: throughput, first byte, bytes lost at exit, echo latency, CPU and
memory, for several transports in one invocation, as ratios to the raw PTY read.

    python bench/pty.py                    # 7 runs, ~149 MB payload (several minutes)
    python bench/pty.py --quick            # smoke run: 1 run, 8 MB, raw transports
    python bench/pty.py --runs 3 --only raw,ssh,loopsy
    python bench/pty.py --install-prereqs  # apt-get install openssh-server first

Method: /work/shared/BENCH-NOTES.md. Transports run in the same invocation, in an order
rotated between runs; the table reports medians and, for each run, the ratio to the raw
read of that same run. Everything runs on 127.0.0.1 and every process started is ended.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder heads sys.path and this module would shadow the
# standard library's ``pty`` (which ptyprocess imports): put the repository there instead.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.pty_loopsy import Loopsy  # noqa: E402
from bench.pty_measure import (  # noqa: E402
    Result,
    Throughput,
    Workloads,
    cpu_seconds,
    percentile,
    pss_mb,
)
from bench.pty_transports import OpenSsh, Raw, RawAsync, SyncConn, Ttyd  # noqa: E402
from bench.relay_transport import LoopsyRelay  # noqa: E402

TRANSPORTS: dict[str, Any] = {
    "raw": Raw, "asyncio": RawAsync, "ssh": OpenSsh, "ttyd": Ttyd, "loopsy": Loopsy,
    "relay": LoopsyRelay,
}
STEP_SECONDS = 180.0  # the most any one measurement may take


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- sync driver (raw, ssh, ttyd) ----------------------------------------------------------


def sync_run(transport: Any, work: Workloads, result: Result, echo_samples: int) -> None:
    deadline = time.monotonic() + STEP_SECONDS
    meter = Throughput()
    conn: SyncConn = transport.open(work.throughput_command)
    try:
        cpu_start = None
        while not meter.end and time.monotonic() < deadline:
            data = conn.read(5.0)
            if data == b"":
                break
            if data and meter.feed(data):
                break
            if cpu_start is None and meter.first is not None:
                pids = conn.pids() + transport.server_pids()
                cpu_start = own_cpu() + cpu_seconds(pids)
        if meter.end and cpu_start is not None:
            cpu = own_cpu() + cpu_seconds(conn.pids() + transport.server_pids()) - cpu_start
            record_throughput(result, meter, work, cpu)
    finally:
        conn.close()

    conn = transport.open(work.exit_command)
    received = 0
    try:
        deadline = time.monotonic() + STEP_SECONDS
        while time.monotonic() < deadline:
            data = conn.read(10.0)
            if not data:
                break
            received += len(data)
        result.lost_at_exit = work.exit_expected - received
    finally:
        conn.close()

    conn = transport.open(work.echo_command)
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while b"READY" not in seen and time.monotonic() < deadline:
            seen += conn.read(1.0) or b""
        samples = []
        for _ in range(10 + echo_samples):
            start = time.perf_counter()
            conn.write(b"x")
            got = b""
            while not got and time.monotonic() < deadline + 60:
                got = conn.read(5.0) or b""
            samples.append((time.perf_counter() - start) * 1e6)
        record_echo(result, samples[10:])
    finally:
        conn.close()


# -- async driver (raw asyncio, loopsy) ----------------------------------------------------


class _AsyncRawConn:
    """The raw PTY read through loop.connect_read_pipe."""

    def __init__(self, command: str) -> None:
        from ptyprocess import PtyProcess

        self.proc = PtyProcess.spawn(["sh", "-c", command], dimensions=(24, 80))
        self.chunks: list[bytes] = []
        self.event = anyio.Event()
        self.eof = False
        self.transport: Any = None

    async def start(self) -> None:
        import asyncio

        conn = self

        class Reader(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                conn.chunks.append(data)
                conn.event.set()

            def eof_received(self) -> None:
                conn.eof = True
                conn.event.set()

            def connection_lost(self, exc: Exception | None) -> None:
                conn.eof = True
                conn.event.set()

        loop = asyncio.get_running_loop()
        pipe = os.fdopen(os.dup(self.proc.fd), "rb", buffering=0)
        self.transport, _ = await loop.connect_read_pipe(Reader, pipe)

    async def read(self) -> bytes:
        while not self.chunks:
            if self.eof:
                return b""
            self.event = anyio.Event()
            await self.event.wait()
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data

    async def write(self, data: bytes) -> None:
        os.write(self.proc.fd, data)

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.proc.terminate(force=True)


async def _open_async(transport: Any, command: str) -> Any:
    if isinstance(transport, RawAsync):
        conn = _AsyncRawConn(command)
        await conn.start()
        return conn
    return await transport.open(command)


async def async_run(transport: Any, work: Workloads, result: Result, echo_samples: int) -> None:
    meter = Throughput()
    conn = await _open_async(transport, work.throughput_command)
    try:
        with anyio.fail_after(STEP_SECONDS):
            cpu_start = None
            while True:
                data = await conn.read()
                if data == b"" or meter.feed(data):
                    break
                if cpu_start is None:
                    cpu_start = own_cpu() + cpu_seconds(transport.server_pids())
        if meter.end and cpu_start is not None:
            cpu = own_cpu() + cpu_seconds(transport.server_pids()) - cpu_start
            record_throughput(result, meter, work, cpu)
    finally:
        await conn.close()

    conn = await _open_async(transport, work.exit_command)
    received = 0
    try:
        with anyio.move_on_after(STEP_SECONDS):
            while data := await conn.read():
                received += len(data)
        result.lost_at_exit = work.exit_expected - received
    finally:
        await conn.close()

    conn = await _open_async(transport, work.echo_command)
    try:
        with anyio.fail_after(60):
            seen = b""
            while b"READY" not in seen:
                seen += await conn.read()
            samples = []
            for _ in range(10 + echo_samples):
                start = time.perf_counter()
                await conn.write(b"x")
                await conn.read()
                samples.append((time.perf_counter() - start) * 1e6)
        record_echo(result, samples[10:])
    finally:
        await conn.close()
    if hasattr(transport, "aclose"):
        await transport.aclose()


# -- results -------------------------------------------------------------------------------


def record_throughput(result: Result, meter: Throughput, work: Workloads, cpu: float) -> None:
    result.mb_per_s = meter.mb_per_s
    result.first_byte_ms = meter.first_byte_ms
    result.exact = meter.received == work.throughput_expected
    if not result.exact:
        result.note = f"received {meter.received} bytes of {work.throughput_expected}"
    result.cpu_s_per_100mb = cpu / (meter.received / 100e6)


def record_echo(result: Result, samples: list[float]) -> None:
    result.echo_p50_us = statistics.median(samples)
    result.echo_p99_us = percentile(samples, 0.99)


def memory(transport: Any, sessions: int) -> float | None:
    """Server PSS (MB) with ``sessions`` idle sessions open (sync transports only here)."""
    if transport.kind != "sync" or isinstance(transport, Raw):
        return None
    conns = [transport.open("exec sleep 60") for _ in range(sessions)]
    try:
        time.sleep(1.0)
        return pss_mb(transport.server_pids())
    finally:
        for conn in conns:
            conn.close()


async def loopsy_memory(transport: Loopsy, sessions: int) -> float:
    conns = [await transport.open("exec sleep 60") for _ in range(sessions)]
    try:
        await anyio.sleep(1.0)
        return pss_mb(transport.server_pids())
    finally:
        for conn in conns:
            await conn.close()
        await transport.aclose()


async def loopsy_reattach(transport: Loopsy) -> tuple[float, int]:
    try:
        return await transport.reattach()
    finally:
        await transport.aclose()


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def report(names: list[str], runs: list[dict[str, Result]], notes: dict[str, str],
           mem: dict[str, str]) -> None:
    print("\n| transport | MB/s | ×raw | first byte ms | exact | CPU s/100 MB | echo p50 µs "
          "| p99 µs | p50 ×raw | lost at exit (bytes) | server PSS idle / 1 / 10 sessions MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        rows = [run[name] for run in runs if name in run]
        if not rows:
            continue

        def med(attr: str, rows: list[Result] = rows) -> float | None:
            values = [getattr(r, attr) for r in rows if getattr(r, attr) is not None]
            return statistics.median(values) if values else None

        def ratio(attr: str, name: str = name) -> float | None:
            values = []
            for run in runs:
                mine, base = getattr(run[name], attr, None), getattr(run.get("raw"), attr, None)
                if mine is not None and base:
                    values.append(mine / base)
            return statistics.median(values) if values else None

        lost = [r.lost_at_exit for r in rows if r.lost_at_exit is not None]
        exact = all(r.exact for r in rows if r.exact is not None)
        print(f"| {rows[0].transport} | {fmt(med('mb_per_s'))} | {fmt(ratio('mb_per_s'), '.2f')} "
              f"| {fmt(med('first_byte_ms'))} | {'yes' if exact else 'NO'} "
              f"| {fmt(med('cpu_s_per_100mb'), '.2f')} | {fmt(med('echo_p50_us'), '.0f')} "
              f"| {fmt(med('echo_p99_us'), '.0f')} | {fmt(ratio('echo_p50_us'), '.2f')} "
              f"| {max(lost) if lost else '–'} | {mem.get(name, '–')} |")
    for name, note in notes.items():
        print(f"\n- {name}: skipped — {note}")
    for run_number, run in enumerate(runs, 1):
        for result in run.values():
            if result.note:
                print(f"\n- run {run_number}, {result.transport}: {result.note}")


def install_prereqs() -> None:
    if OpenSsh.available() is None:
        return
    subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-q", "openssh-server"], check=True,
                   timeout=600, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run, 8 MB, raw transports")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", help="comma-separated: " + ",".join(TRANSPORTS))
    parser.add_argument("--payload-mb", type=float, default=149.0)
    parser.add_argument("--echo-samples", type=int, default=200)
    parser.add_argument("--install-prereqs", action="store_true",
                        help="apt-get install openssh-server when sshd is missing")
    args = parser.parse_args()
    if args.install_prereqs:
        install_prereqs()
    names = args.only.split(",") if args.only else list(TRANSPORTS)
    runs_count, payload = args.runs, int(args.payload_mb * 1e6)
    if args.quick:
        names = args.only.split(",") if args.only else ["raw", "asyncio"]
        runs_count, args.echo_samples = 1, 50
        payload = int(args.payload_mb * 1e6) if args.payload_mb != 149.0 else 8_000_000
    assert names[0] == "raw" or "raw" in names, "the raw transport is the baseline"

    notes: dict[str, str] = {}
    transports: dict[str, Any] = {}
    for name in names:
        cls = TRANSPORTS[name]
        why = cls.available() if hasattr(cls, "available") else None
        if why:
            notes[cls.name] = why
            continue
        transports[name] = cls()
    active = list(transports)
    with tempfile.TemporaryDirectory(prefix="loopsy-bench-") as tmp:
        work = Workloads(Path(tmp), payload)
        work.prepare()
        print(f"# PTY benchmark: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
              f"payload {work.payload_bytes / 1e6:.1f} MB, {runs_count} run(s), "
              f"echo {args.echo_samples} samples")
        runs: list[dict[str, Result]] = []
        mem: dict[str, str] = {}
        extra: dict[str, str] = {}
        try:
            for transport in transports.values():
                transport.start()
            for index in range(runs_count):
                order = active[index % len(active):] + active[:index % len(active)]
                run: dict[str, Result] = {}
                for name in order:
                    transport = transports[name]
                    result = Result(transport.name)
                    if transport.kind == "sync":
                        sync_run(transport, work, result, args.echo_samples)
                    else:
                        anyio.run(async_run, transport, work, result, args.echo_samples)
                    run[name] = result
                    print(f"  run {index + 1} {name}: {fmt(result.mb_per_s)} MB/s, echo p50 "
                          f"{fmt(result.echo_p50_us, '.0f')} µs, lost {result.lost_at_exit}",
                          flush=True)
                runs.append(run)
            for name, transport in transports.items():
                if name == "loopsy":
                    figures = [pss_mb(transport.server_pids())] + [
                        anyio.run(loopsy_memory, transport, n) for n in (1, 10)]
                    if figures[0] is not None and figures[2] is not None:
                        extra[name] = (f"PSS per idle session, holder included: "
                                       f"{(figures[2] - figures[0]) / 10:.2f} MB")
                    ms, size = anyio.run(loopsy_reattach, transport)
                    extra[name] += (f"; reattach to 200x50 + 1,100 lines of scrollback: "
                                    f"{ms:.1f} ms (median of 15), {size / 1024:.0f} KiB")
                else:
                    idle = pss_mb(transport.server_pids()) if transport.server_pids() else None
                    figures = [idle, memory(transport, 1), memory(transport, 10)]
                if any(f is not None for f in figures):
                    mem[name] = " / ".join(fmt(f) for f in figures)
        finally:
            for transport in transports.values():
                transport.stop()
        report(active, runs, notes, mem)
        for name, line in extra.items():
            print(f"\n- {transports[name].name}: {line}")


if __name__ == "__main__":
    main()
