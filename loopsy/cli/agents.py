"""``loopsy agents``: what a session can run; ``pin``/``unpin`` custom commands."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "agents",
        help="list agents (detected or not) and pinned commands",
        description="Built-in agents (shell, claude, codex, gemini, cursor-agent, opencode): "
        "whether each is installed, its version and its auto-approve flag; plus commands "
        "pinned with `loopsy agents pin`.",
    )
    p.add_argument("--refresh", action="store_true", help="ask the binaries again")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_list)
    sub = p.add_subparsers(title="actions", metavar="ACTION")
    pin = sub.add_parser(
        "pin",
        help="pin a custom command",
        description="Pin a command in the agent list: `loopsy agents pin build --label "
        "'Build watcher' --cwd ~/src/app -- make watch`.",
    )
    pin.add_argument("name")
    pin.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    pin.add_argument("--label", help="what lists show (default: the name)")
    pin.add_argument("--cwd", help="working directory for its sessions")
    pin.add_argument("--json", action="store_true", help="print as JSON")
    pin.set_defaults(handler=cmd_pin)
    unpin = sub.add_parser("unpin", help="remove a pinned command")
    unpin.add_argument("name")
    unpin.set_defaults(handler=cmd_unpin)


def cmd_list(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, table

    agents = with_client(lambda client: client.agents.list(refresh=args.refresh))
    if args.json:
        emit_json([a.model_dump(mode="json") for a in agents])
        return 0
    table(
        ["name", "installed", "version", "auto-approve", "command / how found"],
        [
            [
                a.name,
                "yes" if a.detected else "no",
                a.version or "-",
                a.auto_approve_flag or "-",
                " ".join(a.argv) if a.kind == "custom" else a.detection,
            ]
            for a in agents
        ],
    )
    return 0


def cmd_pin(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say
    from loopsy.protocol.errors import LoopsyError

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise LoopsyError("no command to pin", hint="loopsy agents pin NAME -- COMMAND ARGS")
    info = with_client(
        lambda client: client.agents.pin(args.name, argv, label=args.label, cwd=args.cwd)
    )
    if args.json:
        emit_json(info.model_dump(mode="json"))
    else:
        say(
            f"Pinned {info.name}: {' '.join(info.argv)}. Start it with "
            f"`loopsy session new {info.name}`."
        )
    return 0


def cmd_unpin(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import say

    with_client(lambda client: client.agents.unpin(args.name))
    say(f"Unpinned {args.name}.")
    return 0
