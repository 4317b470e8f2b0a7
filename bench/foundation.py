"""Foundation benchmark: the daemon's core request path, the CLI's start-up, idle memory.

    python bench/foundation.py            # 5 runs of each measurement
    python bench/foundation.py --quick    # 1 run, shorter

A real daemon (``loopsy start``, as a user starts it) in a temporary LOOPSY_HOME, reached
over its unix socket by one client in this process, back to back (no concurrency):

- context: a ``set`` then a ``get`` of the same key, each a full HTTP round trip through
  auth, rate limiting, validation, SQLite (committed: WAL, synchronous=NORMAL) and the
  audit log. Reported as pairs per second and single operations per second;
- execute: ``client.execute.run(["true"])`` round trips (spawning the process included);
- ``loopsy status``: wall time of the console script as a user runs it (own timer, median
  and p90; hyperfine's mean as well when Debian's hyperfine is installed);
- memory: VmRSS and Pss (``/proc/<pid>/smaps_rollup``) of the daemon process, idle just
  after start and again idle after the load, plus any child processes it keeps.

Rate limits are raised in the temporary config: with the defaults (60 context requests a
minute) the limiter, not the request path, is what would be measured. Bounded in time
(each loop stops after its count or its seconds); only loopback; the home is removed at
the end and the daemon stopped, whatever happens.

Targets (issue 2): > 1,000 context set+get per second; ``loopsy status`` < 300 ms;
daemon idle RSS < 60 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from loopsy.client import LoopsyClient  # noqa: E402
from loopsy.config import default_config, save_config  # noqa: E402
from loopsy.home import LoopsyHome  # noqa: E402


def loopsy_command() -> list[str]:
    """The console script a user runs, from the same environment as this interpreter."""
    script = Path(sys.executable).parent / "loopsy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "loopsy"]


@contextlib.contextmanager
def running_daemon() -> Iterator[tuple[LoopsyHome, dict[str, str]]]:
    root = Path(tempfile.mkdtemp(prefix="lbf-", dir="/tmp"))
    home = LoopsyHome(root / "home")
    config = default_config(home)
    config.rate_limits.context = 10_000_000
    config.rate_limits.execute = 10_000_000
    config.transfer.allowed_paths = [str(root)]
    save_config(home, config)
    env = {**os.environ, "LOOPSY_HOME": str(home.root)}
    try:
        subprocess.run([*loopsy_command(), "start", "--port", "0"], env=env, check=True,
                       capture_output=True, timeout=60)
        yield home, env
    finally:
        subprocess.run([*loopsy_command(), "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


async def rate(call: Callable[[int], Awaitable[Any]], count: int, seconds: float) -> float:
    """Calls per second, back to back, after a warm-up; stops at ``count`` or ``seconds``."""
    for i in range(min(50, count)):
        await call(-1 - i)
    started = time.perf_counter()
    done = 0
    while done < count and time.perf_counter() - started < seconds:
        await call(done)
        done += 1
    return done / (time.perf_counter() - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_requests(
    home: LoopsyHome, pid: int, runs: int, count: int, seconds: float
) -> dict[str, list[float]]:
    """Rates per run, and CPU microseconds per single context operation (daemon, client):
    CPU per request hardly depends on the machine's load, unlike the rates."""
    results: dict[str, list[float]] = {
        "context_pairs": [], "execute": [], "daemon_us": [], "client_us": []
    }
    async with LoopsyClient.local(home) as client:
        value = "v" * 100

        async def set_get(i: int) -> None:
            key = f"bench:{i % 1000}"
            await client.context.set(key, value)
            await client.context.get(key)

        async def execute(i: int) -> None:
            result = await client.execute.run(["true"])
            assert result.exit_code == 0, result

        has_execute = hasattr(client, "execute")
        for _ in range(runs):
            daemon_before, client_before = cpu_seconds(pid), time.process_time()
            pairs = await rate(set_get, count, seconds)
            ops = 2 * (min(count, int(pairs * seconds) + 1) + min(50, count))
            results["daemon_us"].append((cpu_seconds(pid) - daemon_before) / ops * 1e6)
            results["client_us"].append((time.process_time() - client_before) / ops * 1e6)
            results["context_pairs"].append(pairs)
            if has_execute:
                results["execute"].append(await rate(execute, count // 4, seconds))
    return results


async def concurrent_pairs(home: LoopsyHome, clients: int, seconds: float) -> float:
    """set+get pairs per second from ``clients`` clients at once, each on its own
    connection (all in this one process, which is then often the bottleneck)."""
    done = 0

    async def worker(n: int) -> None:
        nonlocal done
        async with LoopsyClient.local(home) as client:
            deadline = time.perf_counter() + seconds
            i = 0
            while time.perf_counter() < deadline:
                key = f"bench:{n}:{i % 100}"
                await client.context.set(key, "v" * 100)
                await client.context.get(key)
                done += 1
                i += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for n in range(clients):
            tg.start_soon(worker, n)
    return done / (time.perf_counter() - started)


async def raw_pairs(home: LoopsyHome, count: int, seconds: float) -> float:
    """The same set+get exchange written by hand on one keep-alive connection: what the
    daemon allows when the client costs next to nothing (a same-run baseline)."""
    import asyncio

    reader, writer = await asyncio.open_unix_connection(str(home.socket))
    body = json.dumps({"value": "v" * 100}).encode()

    async def exchange(method: str, path: str, payload: bytes = b"") -> None:
        writer.write(
            f"{method} /api/v1{path} HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)

    async def set_get(i: int) -> None:
        key = f"/context/raw:{i % 1000}"
        await exchange("PUT", key, body)
        await exchange("GET", key)

    try:
        return await rate(set_get, count, seconds)
    finally:
        writer.close()


async def transfer(home: LoopsyHome, pid: int, size_mb: int) -> dict[str, float]:
    """Push then pull a ``size_mb`` MB file; MB/s each way, and how much the daemon's peak
    RSS (VmHWM) grew: it streams, so far less than the file."""
    root = home.root.parent
    local = root / "payload.bin"
    with open(local, "wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(1 << 20))
    peak_before = _status_kb(pid, "VmHWM")
    async with LoopsyClient.local(home) as client:
        started = time.perf_counter()
        await client.files.push(local, str(root / "pushed.bin"))
        push = size_mb / (time.perf_counter() - started)
        started = time.perf_counter()
        await client.files.pull(str(root / "pushed.bin"), root / "pulled.bin")
        pull = size_mb / (time.perf_counter() - started)
    growth = (_status_kb(pid, "VmHWM") - peak_before) / 1024
    for name in ("payload.bin", "pushed.bin", "pulled.bin"):
        (root / name).unlink()
    return {"push": push, "pull": pull, "peak_growth": growth}


def _status_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith(field))


def status_times(env: dict[str, str], runs: int) -> list[float]:
    command = [*loopsy_command(), "status"]
    for _ in range(3):  # warm the page cache
        subprocess.run(command, env=env, capture_output=True, check=True, timeout=60)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True, timeout=60)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def hyperfine_mean(env: dict[str, str], runs: int) -> float | None:
    if shutil.which("hyperfine") is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            ["hyperfine", "--warmup", "3", "--runs", str(runs), "--export-json", out.name,
             "--style", "none", " ".join([*loopsy_command(), "status"])],
            env=env, capture_output=True, check=True, timeout=600,
        )
        data = json.loads(Path(out.name).read_text())
    return float(data["results"][0]["mean"]) * 1000


def memory(pid: int) -> dict[str, float]:
    """MB: VmRSS and Pss of ``pid``, and the Pss of its children (if it keeps any)."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    children = 0
    with contextlib.suppress(FileNotFoundError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            text = Path(f"/proc/{child}/smaps_rollup").read_text()
            children += next(
                int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")
            )
    return {"rss": rss / 1024, "pss": pss / 1024, "children_pss": children / 1024}


def settle(pid: int, seconds: float = 2.0) -> None:
    """Let start-up work finish before calling the daemon idle (bounded: a fixed pause)."""
    del pid
    time.sleep(seconds)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run of each")
    args = parser.parse_args()
    runs, count, seconds, status_runs = (1, 1000, 2.0, 10) if args.quick else (5, 5000, 4.0, 30)
    load = os.getloadavg()[0]
    with running_daemon() as (home, env):
        pid = int(home.pid_file.read_text().strip())
        settle(pid)
        idle_start = memory(pid)
        requests: dict[str, list[float]] = {}
        raw: list[float] = []
        ratios: list[float] = []
        for run in range(runs):
            # Loopsy's client and the hand-written one back to back, order rotated, so
            # their ratio compares like with like while the machine's load drifts.
            for first in ((True, False) if run % 2 == 0 else (False, True)):
                if first:
                    one = anyio.run(measure_requests, home, pid, 1, count, seconds)
                    for name, values in one.items():
                        requests.setdefault(name, []).extend(values)
                else:
                    raw.append(anyio.run(raw_pairs, home, count, seconds))
            ratios.append(requests["context_pairs"][-1] / raw[-1])
        parallel = [anyio.run(concurrent_pairs, home, 4, seconds) for _ in range(runs)]
        moved = anyio.run(transfer, home, pid, 64 if args.quick else 256)
        status = status_times(env, status_runs)
        hyperfine = hyperfine_mean(env, status_runs)
        settle(pid)
        idle_after = memory(pid)
    pairs = statistics.median(requests["context_pairs"])
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores")
    print(f"context set+get pairs/s: {pairs:.0f} (ops/s {2 * pairs:.0f}; runs "
          f"{', '.join(f'{r:.0f}' for r in requests['context_pairs'])}) target > 1000")
    print(f"same exchange by a hand-written client: {statistics.median(raw):.0f} pairs/s; "
          f"loopsy client at {statistics.median(ratios):.2f}x of it (median of per-run ratios "
          f"{', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"context set+get pairs/s with 4 concurrent clients: {statistics.median(parallel):.0f}")
    print(f"CPU per context operation: daemon {statistics.median(requests['daemon_us']):.0f} µs, "
          f"client {statistics.median(requests['client_us']):.0f} µs")
    if requests["execute"]:
        print(f"execute round trips/s: {statistics.median(requests['execute']):.0f} (runs "
              f"{', '.join(f'{r:.0f}' for r in requests['execute'])})")
    else:
        print("execute round trips/s: client.execute not available")
    print(f"files: push {moved['push']:.0f} MB/s, pull {moved['pull']:.0f} MB/s; daemon peak "
          f"RSS grew {moved['peak_growth']:.1f} MB moving the file (it streams)")
    print(f"loopsy status ms: median {statistics.median(status):.0f}, "
          f"p90 {percentile(status, 0.9):.0f}, min {min(status):.0f} ({len(status)} runs)"
          + (f"; hyperfine mean {hyperfine:.0f}" if hyperfine is not None else "")
          + "  target < 300")
    for label, mem in (("idle after start", idle_start), ("idle after load", idle_after)):
        print(f"daemon {label}: VmRSS {mem['rss']:.1f} MB, Pss {mem['pss']:.1f} MB, "
              f"children Pss {mem['children_pss']:.1f} MB  target RSS < 60")


if __name__ == "__main__":
    main()
