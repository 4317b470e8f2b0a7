"""Re-record the captured program outputs used by the round-trip tests.

Run by hand (``python tests/unit/terminal/captures/record.py``); the tests only read the
``.bin`` files. Each program runs in a real PTY (80x24 unless the name ends in
``_<cols>x<rows>``) with TERM=xterm-256color, gets a few keystrokes, and its output is
saved as it came.
"""

from __future__ import annotations

import os
import select
import sys
import tempfile
import time
from pathlib import Path

from ptyprocess import PtyProcess

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[3]))

from tests.unit.terminal.recorded import size_of  # noqa: E402

SAMPLE = "\n".join(
    f"def function_{i}(value: int) -> str:  # comment {i} 中文 ✓\n    return str(value * {i})\n"
    for i in range(200)
)
# Lines that wrap at 41 columns with a wide character straddling the margin (one cell
# short of it at an odd column), some of them coloured with a background.
CJK = "".join(
    f"{i:02} {'x' * (i % 3)}{'中文字符测试' * 4} end\n"
    f"\x1b[44m{i:02} {'宽' * 25}\x1b[0m\n"
    for i in range(12)
)
# A shell command line longer than the terminal, typed; then output that changes colour
# and background across the margin.
LONG_COMMAND = (
    "echo " + " ".join(f"word{i}" for i in range(40))
    + " && printf '\\033[1;31mred bold \\033[42mgreen background %s\\033[0m plain %s\\n' "
    + "$(seq -s - 1 30) $(seq -s + 1 30)\r"
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
    env["PS1"] = "$ "
    cols, rows = size_of(name)
    proc = PtyProcess.spawn(argv, dimensions=(rows, cols), env=env, cwd=cwd)
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
    """Record every capture, or only those named on the command line."""
    wanted = set(sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "sample.py").write_text(SAMPLE)
        (Path(tmp) / "long.txt").write_text(SAMPLE * 3)
        (Path(tmp) / "cjk.txt").write_text(CJK)
        vim = ["vim", "-u", "NONE", "-N", "-i", "NONE", "-c", "syntax on", "-c", "set number",
               "sample.py"]
        typed = "Otyped 中文 text\x1b".encode()
        bash = ["bash", "--norc", "--noprofile", "-i"]
        recipes: dict[str, tuple[list[str], list[bytes]]] = {
            "vim": (vim, [b"\x06", b"\x06", b"/return\r", typed, b"\x02"]),
            "vim_exit": (vim, [b"\x06", b"dd", b":q!\r"]),
            "top": (["top", "-d", "0.3"], [b"", b"c", b""]),
            "less": (["less", "-R", "long.txt"], [b" ", b" ", b"/return\r", b"b"]),
            "ls": (["sh", "-c", "ls --color=always -la /usr/bin | head -300; "
                    "ls --color=always /etc; sleep 1"], []),
            # Soft wraps: long lines in narrow terminals, on the main and alternate screens.
            "ls_long_40x12": (["sh", "-c", "ls -l --color=always /usr/lib | head -40; "
                               "sleep 1"], []),
            "cjk_41x10": (["sh", "-c", "cat cjk.txt; sleep 1"], []),
            "bash_long_command": (bash, [LONG_COMMAND.encode(), b"exit\r"]),
            "vim_wrap_40x12": (["vim", "-u", "NONE", "-N", "-i", "NONE", "-c", "set wrap",
                                "cjk.txt"], [b"\x06", b"j", b"\x02"]),
            "less_wrap_40x12": (["less", "-R", "cjk.txt"], [b" ", b"b"]),
        }
        for name, (argv, keys) in recipes.items():
            if not wanted or name in wanted:
                record(name, argv, keys, tmp)


if __name__ == "__main__":
    main()
