"""Re-record the captured program outputs used by the round-trip tests.

Run by hand (``python tests/unit/terminal/captures/record.py``); the tests only read the
``.bin`` files. Each program runs in a real 80x24 PTY with TERM=xterm-256color, gets a few
keystrokes, and its output is saved as it came.
"""

from __future__ import annotations

import os
import select
import tempfile
import time
from pathlib import Path

from ptyprocess import PtyProcess

HERE = Path(__file__).parent
SAMPLE = "\n".join(
    f"def function_{i}(value: int) -> str:  # comment {i} 中文 ✓\n    return str(value * {i})\n"
    for i in range(200)
)


def _drain(proc: PtyProcess, out: bytearray, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.fd], [], [], 0.05)
        if ready:
            try:
                out += os.read(proc.fd, 65536)
            except OSError:
                return


def record(name: str, argv: list[str], keys: list[bytes], cwd: str) -> None:
    env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    proc = PtyProcess.spawn(argv, dimensions=(24, 80), env=env, cwd=cwd)
    out = bytearray()
    try:
        _drain(proc, out, 1.0)
        for key in keys:
            os.write(proc.fd, key)
            _drain(proc, out, 0.4)
    finally:
        proc.terminate(force=True)
    (HERE / f"{name}.bin").write_bytes(bytes(out))
    print(name, len(out))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "sample.py").write_text(SAMPLE)
        (Path(tmp) / "long.txt").write_text(SAMPLE * 3)
        vim = ["vim", "-u", "NONE", "-N", "-i", "NONE", "-c", "syntax on", "-c", "set number",
               "sample.py"]
        typed = "Otyped 中文 text\x1b".encode()
        record("vim", vim, [b"\x06", b"\x06", b"/return\r", typed, b"\x02"], tmp)
        record("vim_exit", vim, [b"\x06", b"dd", b":q!\r"], tmp)
        record("top", ["top", "-d", "0.3"], [b"", b"c", b""], tmp)
        record("less", ["less", "-R", "long.txt"], [b" ", b" ", b"/return\r", b"b"], tmp)
        record("ls", ["sh", "-c", "ls --color=always -la /usr/bin | head -300; "
                      "ls --color=always /etc; sleep 1"], [], tmp)


if __name__ == "__main__":
    main()
