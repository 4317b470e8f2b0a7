"""No daemon runs: the dashboard offers to start one, and `loopsy start` (a real process)
brings it up; the dashboard then shows its data."""

from __future__ import annotations

import socket

import pytest

from loopsy.client import LoopsyClient
from loopsy.config import load_config, save_config
from loopsy.home import LoopsyHome
from loopsy.tui.app import LoopsyApp
from loopsy.tui.start_daemon import StartDaemonScreen
from loopsy.tui.status_bar import StatusBar
from tests.conftest import Cli
from tests.tui.pilot import SIZE, until

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_start_the_daemon_from_the_dashboard(home: LoopsyHome, cli: Cli) -> None:
    config = load_config(home)
    save_config(home, config.model_copy(
        update={"server": config.server.model_copy(update={"port": free_port()})}
    ))
    async with LoopsyClient.local(home) as client:
        app = LoopsyApp(client)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, StartDaemonScreen), "the offer")
            assert str(home.socket) in str(app.screen.query_one("#where").render())
            await pilot.press("s")
            status = app.query_one(StatusBar)
            await until(pilot, lambda: status.connected, "the daemon, started", timeout=30)
            assert status.status is not None and status.status.pid > 0
    assert cli("status").returncode == 0  # it runs on after the dashboard closed
