"""Waiting in Pilot tests: on a condition of the app, bounded in time, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from loopsy.tui.app import LoopsyApp
from tests.tui.fake import NOW

SIZE = (120, 34)


async def until(
    pilot: Pilot[Any], check: Callable[[], object], what: str = "condition", timeout: float = 15
) -> None:
    """Let the app run until ``check()`` is true (raises after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


def fake_app(client: Any) -> LoopsyApp:
    return LoopsyApp(client, clock=lambda: NOW)


async def settle(pilot: Pilot[Any]) -> None:
    """Let pending messages, workers and repaints finish before a screenshot."""
    await pilot.app.workers.wait_for_complete() if False else None
    for _ in range(3):
        await pilot.pause()
    await pilot.wait_for_scheduled_animations()
