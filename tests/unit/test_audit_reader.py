"""Reading the audit log backwards across rotated files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopsy.daemon.audit import AuditLog
from loopsy.daemon.audit_reader import audit_files, recent, reverse_lines
from loopsy.protocol.audit import AuditFilter


@pytest.mark.parametrize("block", [1, 3, 7, 64, 1 << 16])
def test_reverse_lines_across_block_boundaries(tmp_path: Path, block: int) -> None:
    lines = [b"first", b"", b"x" * 100, b"short", b"last line"]
    path = tmp_path / "f"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert list(reverse_lines(path, block)) == [b"last line", b"short", b"x" * 100, b"first"]


def test_reverse_lines_of_missing_and_empty_files(tmp_path: Path) -> None:
    assert list(reverse_lines(tmp_path / "missing")) == []
    (tmp_path / "empty").write_bytes(b"")
    assert list(reverse_lines(tmp_path / "empty")) == []
    (tmp_path / "no-newline").write_bytes(b"only")
    assert list(reverse_lines(tmp_path / "no-newline")) == [b"only"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.jsonl", max_bytes=600, keep=3, clock=Clock())
    yield audit
    audit.close()


def write(log: AuditLog, count: int) -> None:
    for i in range(count):
        log.write({"caller": "local:local" if i % 2 else "key:api", "method": "GET",
                   "path": f"/api/v1/n/{i}", "status": 200 if i % 3 else 404, "ms": 0.1})


def test_rotation_by_size_keeps_a_bounded_number_of_files(log: AuditLog) -> None:
    write(log, 200)
    files = [p for p in audit_files(log) if p.exists()]
    assert len(files) == 4  # the live file and .1 .. .3
    assert not log.path.with_name("audit.jsonl.4").exists()
    for path in files:
        assert path.stat().st_size <= 600 + 200  # rotated once past max_bytes


def test_recent_reads_across_rotated_files_in_order(log: AuditLog) -> None:
    write(log, 200)
    every = recent(log, lambda r: True, 10_000)
    numbers = [int(r["path"].rsplit("/", 1)[1]) for r in every]
    assert numbers == sorted(numbers)
    assert numbers[-1] == 199
    assert len(numbers) > 20  # more than the live file alone holds
    # What was kept is a contiguous tail: rotation drops only the oldest.
    assert numbers == list(range(numbers[0], 200))
    assert [r["path"] for r in recent(log, lambda r: True, 3)] == [
        "/api/v1/n/197", "/api/v1/n/198", "/api/v1/n/199"
    ]


def test_recent_with_filters_and_since(log: AuditLog) -> None:
    write(log, 60)
    failures = recent(log, AuditFilter(min_status=400).matches, 5)
    assert len(failures) == 5
    assert all(r["status"] == 404 for r in failures)
    assert failures[-1]["path"] == "/api/v1/n/57"
    keyed = recent(log, AuditFilter(caller="key:api", path="/api/v1/n/5").matches, 100)
    assert [r["path"] for r in keyed] == ["/api/v1/n/50", "/api/v1/n/52", "/api/v1/n/54",
                                          "/api/v1/n/56", "/api/v1/n/58"]
    since = recent(log, lambda r: True, 100, since=1055.0)
    assert [r["ts"] for r in since] == [1055.0, 1056.0, 1057.0, 1058.0, 1059.0, 1060.0]


def test_a_torn_last_line_is_skipped(log: AuditLog) -> None:
    write(log, 3)
    with open(log.path, "ab") as f:
        f.write(b'{"ts": 1, "caller": "cut sh')
    records = recent(log, lambda r: True, 10)
    assert [r["path"] for r in records] == ["/api/v1/n/0", "/api/v1/n/1", "/api/v1/n/2"]


def test_events_keep_their_fields(log: AuditLog) -> None:
    log.event("local:local", "key.rotated", reason="user asked")
    (record,) = recent(log, AuditFilter(event="key.rotated").matches, 10)
    assert record["reason"] == "user asked"
    assert json.dumps(record)
