"""``loopsy mcp``: the MCP server for coding agents (stdio), and registering it with them."""

from __future__ import annotations

import argparse
from typing import Any

AGENT_KEYS = ("claude", "codex", "gemini", "cursor", "opencode")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mcp",
        help="MCP server for AI coding agents (stdio); install/uninstall it in agents",
        description="Without a subcommand: serve the loopsy_* MCP tools on stdin/stdout (the "
        "agent starts this). `install` registers it with the agents found here (Claude "
        "Code, Codex, Gemini CLI, Cursor, Opencode); `uninstall` takes it out.",
    )
    parser.set_defaults(handler=cmd_serve)
    commands = parser.add_subparsers(title="mcp commands", metavar="COMMAND")
    for name, verb in (("install", "add"), ("uninstall", "remove")):
        p = commands.add_parser(
            name,
            help=f"{verb} the loopsy server in the agents' MCP config files",
            description=f"{verb.capitalize()} the `loopsy` MCP server entry in each agent's "
            "user config file, keeping every other entry; the previous file is saved as "
            "<file>.loopsy-backup. Safe to run again.",
        )
        p.add_argument(
            "--agent",
            action="append",
            choices=AGENT_KEYS,
            help="only this agent (repeatable); default: every agent found here",
        )
        p.add_argument(
            "--dry-run", action="store_true", help="show what would change, change nothing"
        )
        p.add_argument("--json", action="store_true", help="print the changes as JSON")
        p.set_defaults(handler=cmd_install if name == "install" else cmd_uninstall)


def cmd_serve(args: argparse.Namespace) -> int:
    import anyio

    from loopsy.mcp_server.server import create_server

    anyio.run(create_server().run_stdio_async)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    return _apply(args, remove=False)


def cmd_uninstall(args: argparse.Namespace) -> int:
    return _apply(args, remove=True)


def _apply(args: argparse.Namespace, *, remove: bool) -> int:
    from dataclasses import asdict

    from loopsy.cli.output import emit_json, say, table
    from loopsy.mcp_server.install import apply

    changes = apply(remove=remove, dry_run=args.dry_run, only=args.agent)
    if args.json:
        emit_json([asdict(c) for c in changes])
    elif not changes:
        say("No coding agent found here (Claude Code, Codex, Gemini CLI, Cursor, Opencode).")
    else:
        if args.dry_run:
            say("Dry run: nothing was written.")
        table(
            ["agent", "action", "file", "detail"],
            [[c.title, _verb(c.action, args.dry_run), c.path, c.detail] for c in changes],
        )
    return 1 if any(c.action == "error" for c in changes) else 0


def _verb(action: str, dry_run: bool) -> str:
    if not dry_run:
        return action
    return {"added": "would add", "updated": "would update", "removed": "would remove"}.get(
        action, action
    )
