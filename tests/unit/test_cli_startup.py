"""What keeps short commands fast: the parser is built only as far as the command, and
`loopsy status` never loads httpx, anyio or pydantic."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from loopsy.cli.main import COMMAND_MODULES, build_parser
from loopsy.client.probe import local_status
from loopsy.home import LoopsyHome
from loopsy.protocol.errors import ProtocolError, Unauthorized


def commands(parser: object) -> set[str]:
    action = next(a for a in parser._subparsers._group_actions)  # type: ignore[attr-defined]
    return set(action.choices)


def test_every_command_is_found_by_the_lazy_parser() -> None:
    everything = commands(build_parser())
    assert {"status", "context", "files", "logs"} <= everything
    for name in everything:
        assert name in commands(build_parser(name)), name


def test_status_builds_only_the_first_module() -> None:
    assert len(commands(build_parser("status"))) < len(commands(build_parser()))
    assert COMMAND_MODULES[0] == "loopsy.cli.lifecycle"


def test_status_path_imports_no_heavy_library() -> None:
    code = (
        "import sys; import loopsy.cli.main as m; m.build_parser('status');"
        "import loopsy.cli.lifecycle, loopsy.client.probe;"
        "print(sorted({'httpx', 'anyio', 'pydantic', 'yaml'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_probe_without_a_daemon_says_none(tmp_path: Path) -> None:
    assert local_status(LoopsyHome(tmp_path)) is None
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "loopsyd.sock"))  # bound, never listening: refused
    try:
        assert local_status(LoopsyHome(tmp_path)) is None
    finally:
        stale.close()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnope!", ProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", ProtocolError),
        (b'HTTP/1.1 401 Unauthorized\r\nContent-Length: 50\r\n\r\n'
         b'{"error":{"code":"unauthorized","message":"no"}}  ', Unauthorized),
        (b"garbage\r\n\r\n", ProtocolError),
    ],
)
def test_probe_reports_a_strange_answer(tmp_path: Path, answer: bytes, error: type) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "loopsyd.sock"))
    server.listen(1)

    def reply() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(answer)

    thread = threading.Thread(target=reply, daemon=True)
    thread.start()
    try:
        with pytest.raises(error):
            local_status(LoopsyHome(tmp_path))
    finally:
        thread.join(timeout=10)
        server.close()
