"""``loopsy msg``: the agent messaging protocol (AGENTS.md) from the command line."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "msg",
        help="send and read agent messages (AGENTS.md)",
        description="Messages between machines' agents: an envelope stored in the "
        "recipient's inbox and this machine's outbox, with read receipts. `from` is always "
        "set by the daemons.",
    )
    commands = parser.add_subparsers(title="message commands", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "send",
        help="send a message to a peer (or `self`)",
        description="Send BODY to PEER (name or id, or `self`). BODY is parsed as JSON when "
        "it is valid JSON, else sent as a string; '-' reads it from stdin.",
    )
    p.add_argument("peer", metavar="PEER")
    p.add_argument("body", metavar="BODY")
    p.add_argument("--type", default="text", help="text, task, result, ... (default text)")
    p.add_argument("--ttl", type=float, default=86400.0, help="seconds it is kept (default a day)")
    p.add_argument("--id", help="your own message id: sending again with it is harmless")
    p.add_argument("--reply-to", metavar="ID", help="the id this message answers")
    p.add_argument("--json", action="store_true", help="print the outbox entry as JSON")
    p.set_defaults(handler=cmd_send)

    p = commands.add_parser("inbox", help="messages addressed to this machine")
    p.add_argument("--all", action="store_true", help="include acknowledged ones")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_inbox)

    p = commands.add_parser("ack", help="acknowledge a message (tells its sender)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_ack)

    p = commands.add_parser("status", help="delivery state of a sent message")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_status)


def _body(text: str) -> Any:
    import json
    import sys

    if text == "-":
        text = sys.stdin.read()
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_send(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    body = _body(args.body)
    entry = with_client(
        lambda client: client.messages.send(
            args.peer, body, type=args.type, ttl=args.ttl, id=args.id, reply_to=args.reply_to
        )
    )
    if args.json:
        emit_json(entry)
    else:
        extra = f" ({entry.last_error}; retried until it expires)" if entry.last_error else ""
        say(f"Message {entry.envelope.id}: {entry.state}{extra}")
    return 0 if entry.state != "failed" else 1


def cmd_inbox(args: argparse.Namespace) -> int:
    import json

    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say, table

    found = with_client(lambda client: client.messages.inbox(include_acked=args.all))
    if args.json:
        emit_json(found)
        return 0
    if not found:
        say("The inbox is empty.")
        return 0
    rows = []
    for m in found:
        env = m.envelope
        body = env.body if isinstance(env.body, str) else json.dumps(env.body)
        rows.append([env.id, env.from_[:12], env.type, "yes" if m.acked_at else "no", body[:60]])
    table(["id", "from", "type", "acked", "body"], rows)
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    result = with_client(lambda client: client.messages.ack(args.id))
    if args.json:
        emit_json(result)
    elif result.sender_notified:
        say(f"Acknowledged {result.id}; the sender knows.")
    else:
        say(f"Acknowledged {result.id}; the sender is unreachable and will be told later.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, fields

    entry = with_client(lambda client: client.messages.outbox(args.id))
    if args.json:
        emit_json(entry)
    else:
        fields(
            [
                ("id", entry.envelope.id),
                ("to", entry.envelope.to),
                ("state", entry.state),
                ("attempts", entry.attempts),
                ("error", entry.last_error or "-"),
            ]
        )
    return 0
