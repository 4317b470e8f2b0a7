"""The captured program outputs in ``captures/`` (recorded by ``captures/record.py``)."""

from __future__ import annotations

from pathlib import Path

CAPTURES = Path(__file__).parent / "captures"
NAMES = sorted(path.stem for path in CAPTURES.glob("*.bin"))


def size_of(name: str) -> tuple[int, int]:
    """(cols, rows) a capture was recorded at: ``ls_long_40x12`` is 40x12, others 80x24."""
    size = name.rsplit("_", 1)[-1]
    cols, _, rows = size.partition("x")
    if cols.isdigit() and rows.isdigit():
        return int(cols), int(rows)
    return 80, 24


def read(name: str) -> bytes:
    return (CAPTURES / f"{name}.bin").read_bytes()
