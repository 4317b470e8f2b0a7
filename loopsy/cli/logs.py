"""``loopsy logs [-f] [-n N] [--json]``: the audit log, who did what, and live."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

REQUEST_FIELDS = {"ts", "caller", "transport", "method", "path", "status", "ms", "event"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "logs",
        help="show the audit log (every request: who, what, result)",
        description="Show the daemon's audit log, newest last, read across rotated files. "
        "-f keeps following it live until Ctrl-C.",
        epilog="With --json: a JSON array, or with -f one JSON object per line.",
    )
    p.add_argument("-f", "--follow", action="store_true", help="follow new records live")
    p.add_argument(
        "-n", "--lines", type=int, metavar="N", help="show the last N records (20; 10 with -f)"
    )
    p.add_argument("--caller", help="only this caller, e.g. local:local or key:api")
    p.add_argument("--path", help="only paths starting with this, e.g. /api/v1/files")
    p.add_argument("--errors", action="store_true", help="only failed requests (status >= 400)")
    p.add_argument("--json", action="store_true", help="print records as JSON")
    p.set_defaults(handler=cmd_logs)


def cmd_logs(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, note
    from loopsy.protocol.errors import ConfigError

    count = args.lines if args.lines is not None else (10 if args.follow else 20)
    if not 0 <= count <= 10_000 or (count == 0 and not args.follow):
        raise ConfigError(f"-n must be 1..10000 (0 allowed with -f), not {count}")
    filters = {
        "caller": args.caller,
        "path": args.path,
        "min_status": 400 if args.errors else None,
    }
    if not args.follow:
        records = with_client(
            lambda c: c.audit.recent(
                limit=count, **{k: v for k, v in filters.items() if v is not None}
            )
        )
        if args.json:
            emit_json([r.model_dump(mode="json", exclude_none=True) for r in records])
        else:
            for record in records:
                _print(record)
        return 0

    async def follow(client: Any) -> None:
        from loopsy.protocol.audit import AuditDroppedMessage

        async for item in client.audit.follow(backlog=count, **filters):
            if isinstance(item, AuditDroppedMessage):
                note(f"({item.count} records skipped: this terminal could not keep up)")
            elif args.json:
                line = json.dumps(item.model_dump(mode="json", exclude_none=True))
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            else:
                _print(item)

    try:
        with_client(follow)
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how following ends
    note("the daemon closed the log stream (was it stopped?)")
    return 1


def _print(record: Any) -> None:
    from loopsy.cli.output import say

    data = record.model_dump(mode="json", exclude_none=True)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.ts))
    # The path comes from anyone who can reach the port (no key needed to be logged).
    caller = _flat(record.caller)
    if record.event is not None:
        extra = " ".join(f"{k}={_flat(v)}" for k, v in data.items() if k not in REQUEST_FIELDS)
        say(f"{when}  {caller:<16} event {_flat(record.event)} {extra}".rstrip())
        return
    ms = f"{record.ms:.1f} ms" if record.ms is not None else ""
    say(
        f"{when}  {caller:<16} {_flat(record.method or '-'):<6} {_flat(record.path or '-')}  "
        f"{record.status if record.status is not None else '-'}  {ms}".rstrip()
    )


def _flat(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    # Never let a logged field drive the terminal.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
