"""The pieces of ``loopsy files`` that need no daemon: the progress line and paths."""

from __future__ import annotations

import io
import os

import pytest

from loopsy.cli.files import ProgressLine, human_size, remote_path


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_on_a_terminal_after_a_moment() -> None:
    out, clock = Tty(), Clock()
    with ProgressLine("push big.bin", out, clock) as line:
        line.update(1_000_000, 10_000_000)
        assert out.getvalue() == ""  # a quick transfer prints nothing
        clock.now += 1.0
        line.update(5_000_000, 10_000_000)
        assert " 50%" in out.getvalue() and "5.0 MB of 10.0 MB" in out.getvalue()
        assert "5.0 MB/s" in out.getvalue()
        shown = out.getvalue()
        clock.now += 0.01
        line.update(5_100_000, 10_000_000)  # throttled: at most ten updates a second
        assert out.getvalue() == shown
        line.update(10_000_000, 10_000_000)  # but the last one always shows
        assert "100%" in out.getvalue()
    assert out.getvalue().endswith("\r\x1b[K")  # the line is cleared at the end


def test_no_progress_line_when_not_a_terminal() -> None:
    out, clock = io.StringIO(), Clock()
    with ProgressLine("pull x", out, clock) as line:
        clock.now += 10
        line.update(1, 2)
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (999, "999 B"), (1500, "1.5 KB"), (2_500_000, "2.5 MB"),
                       (3 * 10**12, "3000.0 GB")]
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_remote_paths_are_made_absolute_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/tmp")
    assert remote_path("/abs/x") == "/abs/x"
    assert remote_path("notes.txt") == "/tmp/notes.txt"
    assert remote_path("../etc/x") == "/tmp/../etc/x"  # the daemon resolves '..' for real
    assert remote_path("~/x") == os.path.expanduser("~/x")
    # A peer's paths are its own: nothing local is applied to them.
    assert remote_path("notes.txt", peer="studio") == "notes.txt"
    assert remote_path("~/x", peer="studio") == "~/x"


def test_table_cells_cannot_drive_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """File names (`files ls`), commands (`jobs`), ...: chosen by others, shown escaped."""
    from loopsy.cli.output import table

    table(["mode", "name"], [("-rw-r--r--", "evil\x1b[2J\nfake row"), ("drwx", "plain é")])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "\x1b" not in "".join(lines)
    assert lines[1].endswith("evil\\x1b[2J\\nfake row") and lines[2].endswith("plain é")
