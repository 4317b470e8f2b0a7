"""``loopsy shell`` and ``loopsy session list|new|attach|kill|restart|rm|rename``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from loopsy.cli.connect import add_peer_argument

DETACH_NOTE = "Detach with Ctrl-] then d; the session keeps running."


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "shell",
        help="attach this terminal to a session (a new shell if none is named)",
        description="Attach this terminal to session NAME or ID, creating a shell session "
        "with that name if there is none; with no NAME, start a new shell session. " + DETACH_NOTE,
    )
    p.add_argument("session", nargs="?", metavar="NAME|ID")
    p.add_argument("--cwd", help="working directory for a new session (default: here)")
    p.set_defaults(handler=cmd_shell)

    group = subparsers.add_parser(
        "session",
        help="manage sessions (list, new, attach, kill, restart, rm, rename)",
        description="PTY sessions run shells and agents; they outlive every client and the "
        "daemon itself. Refer to a session by its id or its name.",
    )
    sub = group.add_subparsers(title="actions", metavar="ACTION")

    p = sub.add_parser(
        "list",
        help="list sessions",
        description="Every session, running or exited (exited ones stay until removed).",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser(
        "new",
        help="start a session",
        description="Start AGENT (see `loopsy agents`; default: your shell) with extra "
        "arguments, or any command: `loopsy session new claude -- --model opus`, "
        "`loopsy session new --name build -- make watch`.",
    )
    p.add_argument(
        "words",
        nargs="*",
        metavar="AGENT|COMMAND",
        help="an agent or pinned command (then its extra arguments), or any command; put "
        "-- before words that start with a dash",
    )
    p.add_argument("--name", help="unique name (default: AGENT-N)")
    p.add_argument("--cwd", help="working directory (default: here)")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="add to the environment (repeatable)",
    )
    p.add_argument(
        "--size",
        default=None,
        metavar="COLSxROWS",
        help="terminal size (default: this terminal's, else 80x24)",
    )
    p.add_argument(
        "--auto-approve",
        action="store_true",
        help="run the agent without its permission prompts; asks you to confirm",
    )
    p.add_argument("--yes", action="store_true", help="confirm --auto-approve without asking")
    p.add_argument("--record", action="store_true", help="record an asciinema cast")
    p.add_argument("--attach", action="store_true", help="attach this terminal afterwards")
    p.add_argument("--json", action="store_true", help="print the session as JSON")
    p.set_defaults(handler=cmd_new)

    p = sub.add_parser("attach", help="attach this terminal", description=DETACH_NOTE)
    p.add_argument("session", metavar="NAME|ID")
    p.set_defaults(handler=cmd_attach)

    p = sub.add_parser(
        "kill",
        help="end a session's program (it stays listed)",
        description="SIGHUP, then SIGKILL after --grace seconds.",
    )
    p.add_argument("session", metavar="NAME|ID")
    p.add_argument("--grace", type=float, default=3.0, help="seconds before SIGKILL")
    p.add_argument("--json", action="store_true", help="print the session as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_kill)

    p = sub.add_parser("restart", help="run the same command again")
    p.add_argument("session", metavar="NAME|ID")
    p.add_argument("--json", action="store_true", help="print the session as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_restart)

    p = sub.add_parser(
        "rm",
        help="remove exited sessions",
        description="Remove sessions and their folders (recordings too).",
    )
    p.add_argument("sessions", nargs="+", metavar="NAME|ID")
    p.add_argument("--force", action="store_true", help="kill running ones first")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_rm)

    p = sub.add_parser("rename", help="rename a session")
    p.add_argument("session", metavar="NAME|ID")
    p.add_argument("name")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_rename)


def _size(text: str | None) -> tuple[int, int]:
    from loopsy.protocol.errors import LoopsyError

    if text is None:
        import shutil

        size = shutil.get_terminal_size((80, 24))
        return size.columns, size.lines
    cols, sep, rows = text.lower().partition("x")
    if not sep or not cols.isdigit() or not rows.isdigit():
        raise LoopsyError(f"--size {text!r} is not COLSxROWS", hint="e.g. --size 120x40")
    return int(cols), int(rows)


def _env(pairs: list[str]) -> dict[str, str]:
    from loopsy.protocol.errors import LoopsyError

    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LoopsyError(f"--env {pair!r} is not KEY=VALUE")
        env[key] = value
    return env


def _status(info: Any) -> str:
    if info.state != "exited" or info.exit is None:
        return str(info.state)
    if info.exit.reason == "exited":
        return f"exited ({info.exit.code})"
    if info.exit.reason == "signalled":
        return f"killed ({info.exit.signal})"
    return str(info.exit.reason)


def cmd_list(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say, table

    sessions = with_client(lambda client: client.sessions.list(), peer=args.peer)
    if args.json:
        emit_json([s.model_dump(mode="json") for s in sessions])
        return 0
    if not sessions:
        say("No sessions. Start one with `loopsy shell` or `loopsy session new AGENT`.")
        return 0
    table(
        ["id", "name", "agent", "status", "pid", "size", "clients", "command"],
        [
            [
                s.id,
                s.name,
                s.agent or "-",
                _status(s),
                s.pid or "-",
                f"{s.cols}x{s.rows}",
                s.attached,
                " ".join(s.argv)[:60],
            ]
            for s in sessions
        ],
    )
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    import os

    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, note, say

    words = list(args.words)
    cols, rows = _size(args.size)
    env = _env(args.env)

    async def body(client: Any) -> Any:
        agent, extra, argv = None, [], None
        if words:
            names = {a.name for a in await client.agents.list()}
            if words[0] in names:
                agent, extra = words[0], words[1:]
            else:
                argv = words
        info = await client.sessions.create(
            agent,
            argv=argv,
            args=extra,
            cwd=args.cwd or os.getcwd(),
            env=env,
            cols=cols,
            rows=rows,
            name=args.name,
            auto_approve=args.auto_approve,
            record=True if args.record else None,
        )
        if info.state == "pending" and info.approval_id:
            if args.yes or _confirm(info):
                await client.approvals.allow(info.approval_id)
                info = await client.sessions.get(info.id)
            else:
                note(
                    f"Auto-approve waits for confirmation: `loopsy approvals allow "
                    f"{info.approval_id}` (or deny it)."
                )
        if args.attach and info.state == "running":
            from loopsy.cli.terminal import attach_terminal

            say(await attach_terminal(client, info.id, info.name))
        return info

    info = with_client(body)
    if args.json:
        emit_json(info.model_dump(mode="json"))
    elif not args.attach:
        say(f"Session {info.name} ({info.id}) {info.state}: {' '.join(info.argv)}")
        say(f"Attach with `loopsy shell {info.name}`.")
    return 0


def _confirm(info: Any) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"Run {' '.join(info.argv)} without its permission prompts? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def cmd_shell(args: argparse.Namespace) -> int:
    import os

    from loopsy.cli.connect import with_client
    from loopsy.cli.output import say
    from loopsy.protocol.errors import NotFound

    async def body(client: Any) -> str:
        from loopsy.cli.terminal import attach_terminal

        info = None
        if args.session:
            try:
                info = await client.sessions.get(args.session)
            except NotFound:
                info = None
        if info is None or info.state == "exited":
            cols, rows = _size(None)
            if info is not None:
                info = await client.sessions.restart(info.id)
            else:
                info = await client.sessions.create(
                    "shell",
                    cwd=args.cwd or os.getcwd(),
                    cols=cols,
                    rows=rows,
                    name=args.session,
                )
        return await attach_terminal(client, info.id, info.name)

    say(f"[loopsy] {with_client(body)}")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import say

    async def body(client: Any) -> str:
        from loopsy.cli.terminal import attach_terminal

        info = await client.sessions.get(args.session)
        return await attach_terminal(client, info.id, info.name)

    say(f"[loopsy] {with_client(body)}")
    return 0


def _one(args: argparse.Namespace, action: str, **kwargs: Any) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    info = with_client(
        lambda client: getattr(client.sessions, action)(args.session, **kwargs), peer=args.peer
    )
    if args.json:
        emit_json(info.model_dump(mode="json"))
    else:
        say(f"Session {info.name} ({info.id}): {_status(info)}")
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    return _one(args, "kill", grace=args.grace)


def cmd_restart(args: argparse.Namespace) -> int:
    return _one(args, "restart")


def cmd_rm(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import say

    async def body(client: Any) -> None:
        for ref in args.sessions:
            await client.sessions.remove(ref, force=args.force)
            say(f"Removed {ref}.")

    with_client(body, peer=args.peer)
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import say

    info = with_client(
        lambda client: client.sessions.rename(args.session, args.name), peer=args.peer
    )
    say(f"Session {info.id} is now {info.name}.")
    return 0
