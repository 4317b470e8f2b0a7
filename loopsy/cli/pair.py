"""``loopsy pair``: pair this machine with another, with a 6-digit code compared by eye."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

DEFAULT_WINDOW = 300.0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pair",
        help="pair with another machine on the LAN",
        description="Pair two machines. On machine A run `loopsy pair`: it waits and, once "
        "B connects, shows a 6-digit code. On machine B run `loopsy pair HOST[:PORT]` and "
        "type the code A shows; then confirm on A. Both daemons must run with --lan (or "
        "mesh.listen: true). Afterwards each holds a credential issued for it alone, "
        "revocable with `loopsy peers remove`.",
        epilog="Example: `loopsy pair` on the desktop, `loopsy pair 192.168.1.50` on the laptop.",
    )
    p.add_argument(
        "address",
        nargs="?",
        metavar="HOST[:PORT]",
        help="the waiting machine (its mesh port, default 19533); omit to wait here",
    )
    p.add_argument(
        "--code",
        help="on B: the code shown on A (asked for when omitted); three wrong codes abort",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WINDOW,
        help="on A: seconds to wait for the other machine (default 300)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_pair)


def parse_address(text: str) -> tuple[str, int]:
    from loopsy.config import DEFAULT_MESH_PORT
    from loopsy.protocol.errors import LoopsyError

    host, port = text, DEFAULT_MESH_PORT
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text)
    if not host or any(c in host for c in "/?#@ "):
        raise LoopsyError(f"{text!r} is not HOST or HOST:PORT")
    return host, port


def _port(text: str) -> int:
    from loopsy.protocol.errors import LoopsyError

    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise LoopsyError(f"{text!r} is not a port (1-65535)")
    return int(text)


def cmd_pair(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client

    if args.address:
        host, port = parse_address(args.address)
        return with_client(lambda client: _initiate(client, host, port, args))
    return with_client(lambda client: _wait(client, args))


async def _wait(client: Any, args: argparse.Namespace) -> int:
    import anyio

    from loopsy.cli.output import emit_json, note, say
    from loopsy.protocol.errors import Conflict, LoopsyError

    status = await client.peers.pairing_listen(args.timeout)
    where = " or ".join(status.listen) or "this machine's address"
    note(f"Waiting for another machine to pair (up to {args.timeout:.0f} s).")
    note(f"On the other machine run:  loopsy pair {status.listen[0] if status.listen else 'HOST'}")
    note(f"(this machine listens on {where})")
    try:
        status = await client.peers.pairing_status(seen=status.state, wait=25)
        while True:
            if status.state == "code_ready":
                code = status.code
                say(f"\n  Pairing code:  {code[:3]} {code[3:]}\n")
                say(f"  {status.peer_name} ({status.peer_id}) at {status.peer_address}")
                answer = await anyio.to_thread.run_sync(
                    _ask, "Does the other machine show this same code? [y/N] "
                )
                try:
                    status = await client.peers.pairing_decide(answer, code)
                except Conflict:
                    # That attempt ended while the question was on screen (wrong codes typed
                    # there, it gave up, another took its place): say so, look again.
                    status = await client.peers.pairing_status()
                    note(f"That attempt ended ({status.error or 'gone'}); nothing was decided.")
                    continue
                if not answer:
                    note("Rejected. Still waiting (three rejections close the window).")
            elif status.state == "done":
                break
            elif status.state in ("failed", "expired"):
                raise LoopsyError(
                    f"pairing {status.state}: {status.error}", hint="run `loopsy pair` again"
                )
            status = await client.peers.pairing_status(seen=status.state, wait=25)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await client.peers.pairing_cancel()
        raise
    if args.json:
        emit_json(status)
    else:
        say(f"Paired with {status.peer_name} ({status.peer_id}).")
    return 0


def _ask(prompt: str) -> bool:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line.strip().lower() in ("y", "yes")


async def _initiate(client: Any, host: str, port: int, args: argparse.Namespace) -> int:
    import anyio

    from loopsy.cli.output import emit_json, note, say
    from loopsy.protocol.errors import Forbidden, LoopsyError

    status = await client.peers.pairing_connect(host, port)
    note(f"Connected to {status.peer_name} ({status.peer_id}); it now shows a 6-digit code.")
    code = args.code
    try:
        for _ in range(3):
            if code is None:
                code = await anyio.to_thread.run_sync(_read_code)
            try:
                note("Waiting for the other machine to confirm the code...")
                status = await client.peers.pairing_verify(code)
                break
            except Forbidden as exc:
                if "attempt" not in exc.message:
                    raise
                if args.code is not None:
                    raise LoopsyError(
                        "wrong code",
                        hint=f"run `loopsy pair {args.address}` again and type the code the "
                        "other machine shows then",
                    ) from None
                note(f"{exc.message}.")
                code = None
        else:
            raise LoopsyError("pairing failed", hint="run `loopsy pair` again on both machines")
    except BaseException:
        # Whatever ends this run early (a wrong --code, Ctrl-C) ends the attempt over there
        # too, so the waiting machine drops it and takes the next one at once.
        with anyio.CancelScope(shield=True), contextlib.suppress(LoopsyError):
            await client.peers.pairing_verify(None, accept=False)
        raise
    if args.json:
        emit_json(status)
    else:
        say(f"Paired with {status.peer_name} ({status.peer_id}).")
    return 0


def _read_code() -> str:
    sys.stderr.write("Type the code shown on the other machine: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().replace(" ", "")
