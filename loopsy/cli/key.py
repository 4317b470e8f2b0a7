"""``loopsy key show`` and ``loopsy key generate``: the API key TCP clients present."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "key",
        help="show or rotate the API key used on TCP",
        description="The API key that TCP clients send as 'Authorization: Bearer <key>' "
        "(the unix socket needs none). It lives in $LOOPSY_HOME/config.yaml (0600).",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    p = commands.add_parser(
        "show",
        help="print the API key",
        description="Print the API key alone on stdout, e.g. for "
        'curl -H "Authorization: Bearer $(loopsy key show)".',
    )
    p.add_argument("--json", action="store_true", help="print the key and where it is kept")
    p.set_defaults(handler=cmd_show)
    p = commands.add_parser(
        "generate",
        help="replace the API key with a new one (the old one stops working at once)",
        description="Generate a new random API key. With the daemon running, it takes "
        "effect at once (no restart): the old key fails on the next request. Otherwise "
        "config.yaml is rewritten (atomically, 0600) for the next start.",
    )
    p.add_argument("--json", action="store_true", help="print the new key as JSON")
    p.set_defaults(handler=cmd_generate)


def cmd_show(args: argparse.Namespace) -> int:
    from loopsy.cli.output import emit_json, say
    from loopsy.config import load_config
    from loopsy.home import LoopsyHome

    home = LoopsyHome.from_env()
    config = load_config(home)
    if args.json:
        emit_json({"api_key": config.auth.api_key, "config": str(home.config_file)})
    else:
        say(config.auth.api_key)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, note, say
    from loopsy.protocol.errors import DaemonNotRunning

    try:
        key = with_client(lambda client: client.api_key.rotate()).api_key
        running = True
    except DaemonNotRunning:
        key = _rotate_in_file()
        running = False
    if args.json:
        emit_json({"api_key": key, "daemon_running": running})
        return 0
    say(key)
    if running:
        note("New API key in force now; the old one no longer works.")
    else:
        note("New API key saved; the daemon is not running, so it applies from the next start.")
    return 0


def _rotate_in_file() -> str:
    from loopsy.config import load_config, new_secret, save_config
    from loopsy.home import LoopsyHome

    home = LoopsyHome.from_env()
    config = load_config(home)
    key = new_secret()
    config.auth.api_key = key
    save_config(home, config)  # atomic, 0600
    return key
