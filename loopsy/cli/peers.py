"""``loopsy peers``: the machines this one knows, their status, adding and removing them."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "peers",
        help="list, add and remove peers on the LAN mesh",
        description="Peers are other machines' daemons: paired ones (callable with --peer "
        "and from MCP tools) and ones only seen (mDNS, `peers add`).",
    )
    commands = parser.add_subparsers(title="peer commands", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "list",
        help="known peers with online status and latency",
        description="Paired peers first, each checked now (see --cached).",
    )
    p.add_argument("--cached", action="store_true", help="the last background check, at once")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_list)

    p = commands.add_parser(
        "status", help="check one peer now", description="Health-check PEER (name or id) now."
    )
    p.add_argument("peer", metavar="PEER")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_status)

    p = commands.add_parser(
        "add",
        help="add a peer by address (when mDNS cannot reach)",
        description="Ask HOST[:PORT] (its mesh port, default 19533) who it is and remember "
        "it. To call it, pair with it: `loopsy pair HOST[:PORT]`.",
    )
    p.add_argument("address", metavar="HOST[:PORT]")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_add)

    p = commands.add_parser(
        "remove",
        help="forget a peer and revoke its credential",
        description="Forget PEER (name or id). The credential this machine issued to it "
        "stops working at once; pair again to restore.",
    )
    p.add_argument("peer", metavar="PEER")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(handler=cmd_remove)


def _rows(peers: list[Any]) -> list[list[Any]]:
    rows = []
    for p in peers:
        latency = f"{p.latency_ms:.1f} ms" if p.latency_ms is not None else "-"
        address = f"{p.host}:{p.port}" if p.host else "-"
        state = (
            p.status if p.status != "offline" or not p.last_error else f"offline: {p.last_error}"
        )
        rows.append([p.name, p.id[:12], "yes" if p.paired else "no", state, latency, address])
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say, table

    peers = with_client(lambda client: client.peers.list(refresh=not args.cached))
    if args.json:
        emit_json(peers)
        return 0
    if not peers:
        say("No peers yet. Pair with one: `loopsy pair` here, `loopsy pair HOST` there.")
        return 0
    table(["name", "id", "paired", "status", "latency", "address"], _rows(peers))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, table

    peer = with_client(lambda client: client.peers.get(args.peer))
    if args.json:
        emit_json(peer)
    else:
        table(["name", "id", "paired", "status", "latency", "address"], _rows([peer]))
    return 0 if peer.status == "online" else 3


def cmd_add(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say
    from loopsy.cli.pair import parse_address

    host, port = parse_address(args.address)
    peer = with_client(lambda client: client.peers.add(host, port))
    if args.json:
        emit_json(peer)
    elif peer.paired:
        say(f"{peer.name} ({peer.id}) is paired; its address is now {host}:{port}.")
    else:
        say(f"Added {peer.name} ({peer.id}) at {host}:{port}, {peer.status}.")
        say(f"To call it, pair: `loopsy pair` there, then `loopsy pair {host}:{port}` here.")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    peer = with_client(lambda client: client.peers.remove(args.peer))
    if args.json:
        emit_json(peer)
    else:
        say(f"Removed {peer.name} ({peer.id}); its credential no longer works here.")
    return 0
