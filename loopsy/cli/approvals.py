"""``loopsy approvals list|allow|deny``: what waits for a yes at this machine."""

from __future__ import annotations

import argparse
import time
from typing import Any


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "approvals",
        help="list, allow or deny requests that need you at this machine",
        description="Some requests (an agent without its permission prompts) wait for "
        "someone at this machine. Allowing and denying works only here, over the local "
        "socket; never from the network.",
    )
    sub = group.add_subparsers(title="actions", metavar="ACTION")
    p = sub.add_parser("list", help="pending approvals (--all: recent decisions too)")
    p.add_argument("--all", action="store_true", help="include decided ones")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_list)
    for action in ("allow", "deny"):
        p = sub.add_parser(action, help=f"{action} a pending approval")
        p.add_argument("approval", metavar="ID")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.set_defaults(handler=cmd_decide, action=action)


def cmd_list(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say, table

    state = None if args.all else "pending"
    approvals = with_client(lambda client: client.approvals.list(state))
    if args.json:
        emit_json([a.model_dump(mode="json") for a in approvals])
        return 0
    if not approvals:
        say("Nothing waits for approval." if state else "No approvals yet.")
        return 0
    now = time.time()
    table(
        ["id", "state", "from", "expires", "request"],
        [
            [
                a.id,
                a.state,
                a.requested_by,
                f"in {max(0, int(a.expires - now))} s" if a.state == "pending" else "-",
                a.summary,
            ]
            for a in approvals
        ],
    )
    if state:
        say("Allow with `loopsy approvals allow ID`, or deny with `loopsy approvals deny ID`.")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    approval = with_client(lambda client: getattr(client.approvals, args.action)(args.approval))
    if args.json:
        emit_json(approval.model_dump(mode="json"))
    else:
        say(f"Approval {approval.id} {approval.state}: {approval.summary}")
    return 0
