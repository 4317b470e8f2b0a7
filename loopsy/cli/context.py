"""``loopsy context set|get|list|rm``: the daemon's key/value store from the shell."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from loopsy.cli.connect import add_peer_argument

LIST_PAGE = 500


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "context",
        help="key/value context shared with your agents (set, get, list, rm)",
        description="A small key/value store kept by the daemon (SQLite, survives crashes). "
        "Keys are up to 512 bytes of printable text (':' '/' '.' allowed); values are "
        "UTF-8 text up to 1 MiB.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "set",
        help="set a key",
        description="Set KEY to VALUE ('-' reads the value from stdin).",
        epilog="examples: loopsy context set notes:today 'ship it' --ttl 3600\n"
        "          git diff | loopsy context set review:patch -",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("key")
    p.add_argument("value", help="the value, or '-' to read it from stdin")
    p.add_argument("--ttl", type=float, metavar="S", help="expire after S seconds")
    p.add_argument("--if-absent", action="store_true", help="only if the key does not exist yet")
    p.add_argument(
        "--if-version",
        type=int,
        metavar="N",
        help="only if the key is at version N (compare-and-set)",
    )
    p.add_argument("--json", action="store_true", help="print the stored entry as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_set)

    p = commands.add_parser(
        "get",
        help="print a key's value",
        description="Print KEY's value, with a newline added if it lacks one (exit 1 if the "
        "key does not exist or has expired). --json gives the value exactly.",
    )
    p.add_argument("key")
    p.add_argument("--json", action="store_true", help="print the entry (value, version, expiry)")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_get)

    p = commands.add_parser(
        "list",
        aliases=["ls"],
        help="list keys",
        description="List live keys in order, optionally only those starting with a prefix.",
    )
    p.add_argument("--prefix", default="", metavar="P", help="only keys starting with P")
    p.add_argument("--after", metavar="KEY", help="start after KEY (to page through)")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="at most N keys (100)")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_list)

    p = commands.add_parser("rm", help="delete a key", description="Delete KEY.")
    p.add_argument("key")
    p.add_argument("--if-version", type=int, metavar="N", help="only if at version N")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_rm)


def cmd_set(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    value = sys.stdin.read() if args.value == "-" else args.value
    entry = with_client(
        lambda client: client.context.set(
            args.key,
            value,
            ttl=args.ttl,
            if_absent=args.if_absent,
            if_version=args.if_version,
        ),
        peer=args.peer,
    )
    if args.json:
        emit_json(entry)
    else:
        say(f"set {entry.key} (version {entry.version}{_expiry(entry.expires_at)})")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json

    entry = with_client(lambda client: client.context.get(args.key), peer=args.peer)
    if args.json:
        emit_json(entry)
    else:
        sys.stdout.write(entry.value if entry.value.endswith("\n") else entry.value + "\n")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, note, table
    from loopsy.protocol.errors import ConfigError

    if args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {args.limit}")

    async def fetch(client: Any) -> tuple[list[Any], str | None]:
        entries: list[Any] = []
        after = args.after
        # Bounded: each page moves the cursor forward, and we stop at --limit entries.
        while len(entries) < args.limit:
            page = await client.context.list(
                args.prefix, after=after, limit=min(LIST_PAGE, args.limit - len(entries))
            )
            entries.extend(page.entries)
            after = page.next_after
            if after is None:
                break
        return entries, after

    entries, more = with_client(fetch, peer=args.peer)
    if args.json:
        emit_json({"entries": [e.model_dump(mode="json") for e in entries], "next_after": more})
        return 0
    table(
        ["key", "version", "expires", "value"],
        [(e.key, e.version, _expiry(e.expires_at, bare=True), _preview(e.value)) for e in entries],
    )
    if more is not None:
        note(f"more keys follow: `loopsy context list --after {_shell_quote(more)}`")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    with_client(
        lambda client: client.context.delete(args.key, if_version=args.if_version), peer=args.peer
    )
    if args.json:
        emit_json({"key": args.key, "deleted": True})
    else:
        say(f"deleted {args.key}")
    return 0


def _expiry(expires_at: float | None, *, bare: bool = False) -> str:
    if expires_at is None:
        return "never" if bare else ""
    from loopsy.cli.output import duration

    left = f"in {duration(max(0.0, expires_at - time.time()))}"
    return left if bare else f", expires {left}"


def _preview(value: str, width: int = 60) -> str:
    # Escape control characters: a value must not drive the terminal from a table cell.
    flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
