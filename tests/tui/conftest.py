"""TUI fixtures: the fake client, and SVG snapshots kept in ``snapshots/`` at the repo
root (``pytest --snapshot-update`` rewrites them; look at them before committing)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy import SnapshotAssertion
from textual.app import App

from tests.tui.fake import NOW, FakeClient, populated

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "snapshots"


class RootSnapshots(SVGImageExtension):
    """One SVG per assertion in ``snapshots/<test module>/``."""

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(SNAPSHOTS / Path(test_location.filepath).stem)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clock times in screenshots read the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fake() -> Iterator[FakeClient]:
    client = populated()
    yield client
    client.close()


@pytest.fixture
def snap(snapshot: SnapshotAssertion) -> Callable[[App[Any]], bool]:
    """Compare the running app's screen with its stored SVG."""
    stored = snapshot.use_extension(RootSnapshots)

    def compare(app: App[Any]) -> bool:
        return stored == app.export_screenshot(title="loopsy tui")

    return compare


def fixed_clock() -> float:
    return NOW
