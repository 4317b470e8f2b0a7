"""``loopsy tui``: the dashboard (sessions, peers, phones, approvals, inbox, audit log)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tui",
        help="the dashboard: sessions, peers, phones, approvals, inbox, audit log",
        description="A full-screen dashboard of this machine's daemon over its unix socket: "
        "attach to sessions and type into them, pair peers and phones, approve requests, "
        "read the inbox and follow the audit log. Offers to start the daemon when none runs. "
        "Keys: 1-6 switch tabs, Ctrl+P the command palette, Ctrl+Q quits; in a pane every "
        "key goes to the program and Ctrl+] comes back.",
    )
    p.set_defaults(handler=cmd_tui)


def cmd_tui(args: argparse.Namespace) -> int:
    import anyio

    from loopsy.client import LoopsyClient
    from loopsy.home import LoopsyHome
    from loopsy.tui.app import LoopsyApp

    home = LoopsyHome.from_env()
    home.check_socket_path()

    async def run() -> None:
        async with LoopsyClient.local(home) as client:
            await LoopsyApp(client).run_async()

    anyio.run(run)
    return 0
