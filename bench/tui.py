"""Benchmarks of `loopsy tui` against a real daemon process.

    python bench/tui.py            # full run (~1 minute)
    python bench/tui.py --quick    # smoke run

1. Ready: from spawning `python -m loopsy tui` in a PTY (120x36) to a screen that shows
   the session list with data (read back through loopsy.terminal.Screen). Target < 1 s.
2. Key under load: a pane attached to a shell running `yes` at full speed; Ctrl+C is
   pressed and timed until its echo (^C) is in the pane's terminal and the compositor
   has rendered a row of the pane that shows it. Target < 100 ms.

Figures go to docs/BENCHMARKS.md, section "TUI".
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
# The repository root, not bench/ (whose pty.py would shadow the standard library's).
sys.path[0] = str(ROOT)

from loopsy.client import LoopsyClient  # noqa: E402
from loopsy.home import LoopsyHome  # noqa: E402
from loopsy.terminal import Screen  # noqa: E402

COLS, ROWS = 120, 36


def loopsy(home: LoopsyHome, *args: str) -> str:
    env = {**os.environ, "LOOPSY_HOME": str(home.root)}
    done = subprocess.run(
        [sys.executable, "-m", "loopsy", *args], env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )
    return done.stdout


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (what load on the machine cannot inflate)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ready_once(home: LoopsyHome, timeout: float = 20) -> tuple[float, float]:
    """Seconds from spawning `loopsy tui` to the session list on its screen, and the CPU
    seconds the dashboard's process used until then."""
    from ptyprocess import PtyProcess

    env = {**os.environ, "LOOPSY_HOME": str(home.root), "TERM": "xterm-256color"}
    screen = Screen(COLS, ROWS)
    start = time.perf_counter()
    proc = PtyProcess.spawn(
        [sys.executable, "-m", "loopsy", "tui"], env=env, dimensions=(ROWS, COLS)
    )
    try:
        while time.perf_counter() - start < timeout:
            try:
                data = proc.read(65536)
            except EOFError:
                break
            screen.feed(data)
            text = "\n".join(screen.display())
            if "bench-shell" in text and "running" in text:
                return time.perf_counter() - start, cpu_seconds(proc.pid)
        raise RuntimeError("the dashboard never showed the session list:\n" + text)
    finally:
        proc.write(b"\x11")  # Ctrl+Q
        deadline = time.monotonic() + 5
        while proc.isalive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.isalive():
            proc.terminate(force=True)


async def key_latency(home: LoopsyHome, presses: int) -> tuple[list[float], float]:
    """Ctrl+C round trips while `yes` floods the pane; and the pane's feed rate (MB/s)."""
    from textual import events

    from loopsy.tui.app import LoopsyApp
    from loopsy.tui.session_list import SessionList
    from loopsy.tui.terminal_pane import TerminalPane

    async with LoopsyClient.local(home) as client:
        info = await client.sessions.create(
            argv=["sh"], env={"PS1": "$ "}, cwd="/tmp", name="bench-yes"
        )
        app = LoopsyApp(client)
        async with app.run_test(size=(COLS, ROWS)) as pilot:

            async def until(check, what: str, limit: float = 30) -> None:  # type: ignore[no-untyped-def]
                # anyio.sleep, not pilot.pause(0.001): that first waits for every widget to
                # process its pending messages, which under a flood delays the look itself.
                deadline = time.monotonic() + limit
                while not check():
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"timed out waiting for {what}")
                    await anyio.sleep(0.001)

            table = app.query_one(SessionList)
            await until(lambda: info.id in table.sessions, "the list")
            table.focus()
            table.move_cursor(row=table.get_row_index(info.id))
            await pilot.press("enter")
            await until(lambda: app.query(TerminalPane), "the pane")
            pane = app.query_one(TerminalPane)
            term = pane.terminal
            driver = app._driver
            assert driver is not None
            await until(lambda: term.offset is not None and "$" in "".join(term.text()), "$")
            times: list[float] = []
            fed = 0
            flooding = 0.0
            for _ in range(presses):
                await pilot.press(*"clear", "enter")
                await until(lambda: "^C" not in "\n".join(term.text()), "a clear screen")
                await pilot.press(*"yes", "enter")
                await until(lambda: sum(t.rstrip() == "y" for t in term.text()) > 5, "yes")
                before, t_flood = term.offset or 0, time.perf_counter()
                await anyio.sleep(0.3)  # let the flood reach full speed
                fed += (term.offset or 0) - before
                flooding += time.perf_counter() - t_flood
                # The key goes in as the terminal driver sends it. Not `pilot.press`: after
                # each key it waits for the whole process to go idle (20 ms steps until a
                # step uses < 1 ms of CPU), ~80 ms after a flood that no user sees.
                key = events.Key("ctrl+c", "\x03")
                key.set_sender(app)
                start = time.perf_counter()
                driver.send_message(key)
                await until(lambda: "^C" in "\n".join(term.text()), "the ^C echo")
                # Until the compositor has rendered a row showing it (strips are made by
                # render_line when the screen is drawn).
                await until(lambda: any("^C" in strip.text for strip in pane._strips.values()),
                            "the ^C painted")
                times.append(time.perf_counter() - start)
            await client.sessions.remove(info.id, force=True)
            return times, fed / flooding / 1e6


async def bare_rate(home: LoopsyHome, seconds: float = 3.0) -> float:
    """MB/s of `yes` that a bare attach (auto ACKs, nothing drawn) takes from the daemon:
    the ceiling any pane can reach on this machine right now."""
    from loopsy.protocol import stream

    async with LoopsyClient.local(home) as client:
        info = await client.sessions.create(argv=["yes"], cwd="/tmp", name="bench-bare")
        async with client.sessions.attach(info.id, cols=COLS - 2, rows=ROWS - 11) as attach:
            received, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                frame = await attach.recv()
                if isinstance(frame, stream.Output):
                    received += len(frame.data)
            rate = received / (time.perf_counter() - start) / 1e6
        await client.sessions.remove(info.id, force=True)
        return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs, presses = (2, 3) if args.quick else (7, 20)
    root = Path(tempfile.mkdtemp(prefix="lb-", dir="/tmp"))
    home = LoopsyHome(root / "home")
    loopsy(home, "start", "--port", "0")
    try:
        loopsy(home, "session", "new", "--name", "bench-shell", "--cwd", "/tmp", "--", "sh")
        ready_once(home)  # warm the file cache
        results = [ready_once(home) for _ in range(runs)]
        ready = sorted(wall for wall, _ in results)
        cpu = sorted(used for _, used in results)
        print(f"ready (spawn to session list), {runs} runs: median "
              f"{statistics.median(ready) * 1000:.0f} ms, min {ready[0] * 1000:.0f} ms, "
              f"max {ready[-1] * 1000:.0f} ms  (target < 1000 ms); CPU time of the "
              f"dashboard until then: median {statistics.median(cpu) * 1000:.0f} ms")
        load = os.getloadavg()[0]
        print(f"load average while measuring: {load:.2f} on {os.cpu_count()} cores")
        times, rate = anyio.run(key_latency, home, presses)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"Ctrl+C echo visible while `yes` floods the pane, {presses} presses: "
              f"median {statistics.median(times) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
              f"max {times[-1] * 1000:.1f} ms  (target < 100 ms); "
              f"the pane took in {rate:.1f} MB/s of `yes` meanwhile")
        bare = anyio.run(bare_rate, home)
        print(f"a bare attach (no drawing) takes in {bare:.1f} MB/s of `yes` from the daemon")
    finally:
        loopsy(home, "stop")
        from tests.helpers.sessions import kill_holders

        kill_holders(home)
        subprocess.run(["rm", "-rf", str(root)], check=False)


if __name__ == "__main__":
    main()
