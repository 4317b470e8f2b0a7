"""Pairing two real in-process daemons from the dashboard: waiting here and showing the
code, and connecting to a machine that waits and typing its code."""

from __future__ import annotations

import re

import anyio
import pytest
from textual.widgets import Input, Label

from loopsy.protocol.peers import PairingStatus
from loopsy.tui.app import LoopsyApp
from loopsy.tui.peer_connect import PeerConnectScreen
from loopsy.tui.peer_wait import PeerWaitScreen
from loopsy.tui.peers_panel import PeersPanel
from loopsy.tui.status_bar import StatusBar
from tests.integration.mesh.conftest import StartNode, start_node  # noqa: F401
from tests.tui.pilot import SIZE, until

pytestmark = pytest.mark.anyio


async def on_peers_tab(pilot, app: LoopsyApp) -> PeersPanel:
    await until(pilot, lambda: app.query_one(StatusBar).connected, "the event stream")
    await pilot.press("2")
    panel = app.query_one(PeersPanel)
    await until(pilot, lambda: app.focused is panel.query_one("DataTable"), "the tab")
    return panel


async def test_wait_here_and_confirm_the_code(start_node: StartNode) -> None:  # noqa: F811
    alpha, beta = await start_node("alpha"), await start_node("beta")
    app = LoopsyApp(alpha.client)
    async with app.run_test(size=SIZE) as pilot:
        panel = await on_peers_tab(pilot, app)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PeerWaitScreen), "the dialog")
        screen = app.screen
        await until(pilot, lambda: screen.status.state == "waiting", "the open window")
        verified: list[PairingStatus] = []
        async with anyio.create_task_group() as tg:
            status = await beta.client.peers.pairing_connect("127.0.0.1", alpha.mesh_port)
            assert status.peer_name == "alpha"
            await until(pilot, lambda: screen.status.state == "code_ready", "the code")
            shown = str(screen.query_one("#peer-code", Label).render())
            code = "".join(re.findall(r"\d", shown))
            assert len(code) == 6 and "beta" in str(screen.query_one("#peer-title").render())

            async def verify() -> None:  # beta's user types the code alpha shows
                verified.append(await beta.client.peers.pairing_verify(code))

            tg.start_soon(verify)
            await pilot.press("y")  # alpha's user: the same code
            await until(pilot, lambda: not isinstance(app.screen, PeerWaitScreen), "done")
        assert verified[0].state == "done"
        await until(pilot, lambda: beta.id in panel.peers, "beta listed, live")
        assert panel.peers[beta.id].paired


async def test_connect_to_a_waiting_machine(start_node: StartNode) -> None:  # noqa: F811
    alpha, beta = await start_node("alpha"), await start_node("beta")
    app = LoopsyApp(alpha.client)
    async with app.run_test(size=SIZE) as pilot:
        panel = await on_peers_tab(pilot, app)
        await beta.client.peers.pairing_listen(60)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, PeerConnectScreen), "the dialog")
        await pilot.press(*f"127.0.0.1:{beta.mesh_port}", "enter")
        code_input = app.screen.query_one("#code", Input)
        await until(pilot, lambda: not code_input.disabled, "connected")
        status = await beta.client.peers.pairing_status(seen="waiting", wait=10)
        assert status.state == "code_ready" and status.code
        await pilot.press(*status.code, "enter")
        await until(pilot, lambda: "Waiting for the other machine" in str(
            app.screen.query_one("#connect-state", Label).render()), "the wait")
        await beta.client.peers.pairing_decide(True)  # beta's user: the same code
        await until(pilot, lambda: not isinstance(app.screen, PeerConnectScreen), "done")
        await until(pilot, lambda: beta.id in panel.peers, "beta listed, live")
