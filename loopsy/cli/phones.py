"""``loopsy mobile pair``, ``loopsy phone list``, ``loopsy phone revoke``."""

from __future__ import annotations

import argparse
import time
from typing import Any

PAIR_POLL = 0.5


def register(subparsers: Any) -> None:
    mobile = subparsers.add_parser(
        "mobile",
        help="pair a phone through the relay",
        description="Pair a phone with this machine through the configured relay.",
    )
    msub = mobile.add_subparsers(title="mobile commands", metavar="COMMAND")
    p = msub.add_parser(
        "pair",
        help="show a QR code and a 6-digit code to pair a phone",
        description="Print a QR code and URL for your phone's camera, and a 6-digit code to "
        "type on the phone. The code is not in the QR code or URL: someone who only sees the "
        "QR cannot pair. Five wrong codes, or the TTL, end the offer; it works once.",
    )
    p.add_argument(
        "--ttl", type=float, default=300, help="seconds the offer stays valid (default 300)"
    )
    p.add_argument("--json", action="store_true", help="print the offer as JSON and exit")
    p.add_argument(
        "--no-wait", action="store_true", help="exit after printing (do not wait for the phone)"
    )
    p.set_defaults(handler=cmd_pair)
    mobile.set_defaults(handler=lambda args: mobile.print_help() or 2)

    phone = subparsers.add_parser("phone", help="list or revoke paired phones")
    psub = phone.add_subparsers(title="phone commands", metavar="COMMAND")
    p = psub.add_parser("list", help="paired phones: id, name, paired, last seen, online")
    p.add_argument("--json", action="store_true", help="print the phones as JSON")
    p.set_defaults(handler=cmd_list)
    p = psub.add_parser(
        "revoke",
        help="revoke a phone: refused at once by the daemon and the relay",
        description="Forget the phone's key and relay credential. Its open connections are "
        "dropped at once; it has to pair again to come back.",
    )
    p.add_argument("phone_id", help="the id from `loopsy phone list`")
    p.set_defaults(handler=cmd_revoke)
    phone.set_defaults(handler=lambda args: phone.print_help() or 2)


def print_offer(offer: Any) -> None:
    from loopsy.cli.output import say

    say(render_qr(offer.url))
    say(f"Scan with your phone's camera, or open:\n  {offer.url}\n")
    say(f"Then type this code on the phone:  {offer.code[:3]} {offer.code[3:]}")
    minutes = max(1, round(offer.ttl / 60))
    say(f"(valid for {minutes} min, once; 5 wrong codes end it. Never share the code.)")


def render_qr(url: str) -> str:
    import io

    import qrcode

    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_L)
    qr.add_data(url)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


def cmd_pair(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, note, say
    from loopsy.protocol.errors import ConfigError

    if not 10 <= args.ttl <= 3600:
        raise ConfigError("--ttl must be between 10 and 3600 seconds")
    offer = with_client(lambda c: c.phones.pair(ttl=args.ttl))
    if args.json:
        emit_json(offer)
        return 0
    print_offer(offer)
    if args.no_wait:
        return 0
    note("Waiting for the phone... (Ctrl-C stops waiting; the offer stays valid)")
    deadline = time.monotonic() + offer.ttl + 5
    while time.monotonic() < deadline:
        state = with_client(lambda c: c.phones.pair_state(offer.pair_id))
        if state.state == "paired":
            say(f"Paired: {state.phone_name} ({state.phone_id})")
            return 0
        if state.state in ("burned", "expired"):
            reason = "too many wrong codes" if state.state == "burned" else "it expired"
            say(f"The offer ended: {reason}. Run `loopsy mobile pair` again.")
            return 1
        time.sleep(PAIR_POLL)
    say("The offer expired.")
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say, table

    phones = with_client(lambda c: c.phones.list())
    if args.json:
        emit_json(phones)
        return 0
    if not phones:
        say("No paired phones. `loopsy mobile pair` pairs one.")
        return 0
    table(
        ["id", "name", "paired", "last seen", "online"],
        [
            (
                p.phone_id,
                p.name,
                _when(p.created_at),
                _when(p.last_seen),
                "yes" if p.connected else "no",
            )
            for p in phones
        ],
    )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import say

    with_client(lambda c: c.phones.revoke(args.phone_id))
    say(f"Revoked phone {args.phone_id}.")
    return 0


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))
