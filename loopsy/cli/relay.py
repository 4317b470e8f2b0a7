"""``loopsy relay serve|configure|status``: run a relay; point the daemon at one."""

from __future__ import annotations

import argparse
import os
from typing import Any

REGISTRATION_ENV = "LOOPSY_RELAY_REGISTRATION_SECRET"


def register(subparsers: Any) -> None:
    relay = subparsers.add_parser(
        "relay",
        help="run a relay, or point the daemon at one",
        description="The relay splices the daemon's outbound WebSocket with your phone's. "
        "It sees only ciphertext: phone and daemon are end-to-end encrypted.",
    )
    sub = relay.add_subparsers(title="relay commands", metavar="COMMAND")

    p = sub.add_parser(
        "serve",
        help="run a self-hosted relay in this terminal",
        description="Run the relay (HTTP API, WebSockets, and the phone client at /app) until "
        f"Ctrl-C. A registration secret, if you want one, comes from ${REGISTRATION_ENV} or "
        "--registration-secret-file (never the command line).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8787, help="TCP port (default 8787; 0 = any)")
    p.add_argument("--data-dir", help="where relay.db lives (default $LOOPSY_HOME/relay)")
    p.add_argument("--tls-cert", help="PEM certificate: serve HTTPS/WSS (with --tls-key)")
    p.add_argument("--tls-key", help="PEM private key for --tls-cert")
    p.add_argument("--app-dir", help="phone client files to serve at /app")
    p.add_argument(
        "--max-pair-ttl", type=float, default=900, help="cap on pair token lifetime, seconds"
    )
    p.add_argument(
        "--register-rate", type=int, default=5, help="device registrations per minute per IP"
    )
    p.add_argument("--registration-secret-file", help="file holding the registration secret")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser(
        "configure",
        help="point the daemon at a relay (takes effect at once)",
        description="Set relay.url. A running daemon registers with the relay and connects "
        f"without a restart. A relay's registration secret comes from ${REGISTRATION_ENV}.",
    )
    p.add_argument(
        "url", help="relay base URL, e.g. https://relay.example or http://127.0.0.1:8787"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_configure)

    p = sub.add_parser("status", help="is the daemon connected to its relay?")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(handler=cmd_status)

    from loopsy.cli import relay_deploy  # `loopsy relay deploy`: the Cloudflare Worker

    relay_deploy.register(sub)

    relay.set_defaults(handler=lambda args: relay.print_help() or 2)


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from loopsy.home import LoopsyHome
    from loopsy.protocol.errors import ConfigError
    from loopsy.protocol.pairing import secret_hash
    from loopsy.relay.app import RelaySettings
    from loopsy.relay.server import RelayOptions, default_app_dir, run_relay

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be 0..65535, not {args.port}")
    secret = os.environ.get(REGISTRATION_ENV)
    if args.registration_secret_file:
        try:
            secret = Path(args.registration_secret_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read --registration-secret-file: {exc.strerror}") from None
    if secret is not None and len(secret) < 16:
        raise ConfigError("the registration secret must be at least 16 characters")
    data_dir = Path(args.data_dir) if args.data_dir else LoopsyHome.from_env().root / "relay"
    app_dir = Path(args.app_dir) if args.app_dir else default_app_dir()
    if args.app_dir and not (app_dir / "index.html").is_file():
        raise ConfigError(f"--app-dir {app_dir} has no index.html")
    settings = RelaySettings(
        max_pair_ttl=args.max_pair_ttl,
        register_rate=max(1, args.register_rate),
        registration_secret_hash=secret_hash(secret.encode()) if secret else None,
        app_dir=app_dir,
    )
    run_relay(
        RelayOptions(
            host=args.host,
            port=args.port,
            data_dir=data_dir,
            tls_cert=Path(args.tls_cert) if args.tls_cert else None,
            tls_key=Path(args.tls_key) if args.tls_key else None,
            settings=settings,
        )
    )
    return 0


def cmd_configure(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say
    from loopsy.config import load_config, save_config
    from loopsy.home import LoopsyHome
    from loopsy.protocol.errors import ConfigError, DaemonNotRunning

    if not args.url.startswith(("https://", "http://")) or len(args.url) > 2048:
        raise ConfigError(
            f"relay.url must start with https:// (or http:// for a local relay), not {args.url!r}"
        )
    secret = os.environ.get(REGISTRATION_ENV)

    async def configure(client: Any) -> tuple[Any, Any]:
        before = await client.relay.status()
        return before, await client.relay.configure(args.url, registration_secret=secret)

    try:
        before, status = with_client(configure)
    except DaemonNotRunning:
        home = LoopsyHome.from_env()
        config = load_config(home)
        config.relay.url = args.url
        if secret is not None:
            config.relay.registration_secret = secret
        save_config(home, config)
        if args.json:
            emit_json({"url": config.relay.url, "daemon_running": False})
        else:
            say(f"relay.url = {config.relay.url} (the daemon connects when it starts)")
        return 0
    # Configuring the relay that refused this daemon's credential registers it again: a new
    # device, which the phones paired before do not know.
    renewed = (
        before.state == "rejected" and before.url == status.url and before.device_id is not None
    )
    if args.json:
        emit_json({**status.model_dump(mode="json"), "registered_again": renewed})
    elif renewed:
        say(
            f"relay.url = {status.url}; the relay did not know this daemon any more, so it "
            "registers again as a new device. Phones paired through this relay must pair "
            "again: `loopsy mobile pair` (and `loopsy phone revoke <id>` for the old ones)."
        )
    else:
        say(f"relay.url = {status.url}; the daemon is connecting (see `loopsy relay status`)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, fields, say

    status = with_client(lambda c: c.relay.status())
    if args.json:
        emit_json(status)
        return 0 if status.connected else 3
    if status.url is None:
        say("No relay configured. `loopsy relay configure <url>` (or `loopsy up`) sets one.")
        return 3
    fields(
        [
            ("relay", status.url),
            ("state", status.state),
            ("connected", "yes" if status.connected else "no"),
            ("device", status.device_id or "-"),
            ("phones online", status.phones_online),
            ("last error", status.last_error or "-"),
        ]
    )
    if status.state == "rejected" and status.device_id is None:
        say(
            "The relay refused to register this daemon; it will not keep retrying. Give it "
            f"the relay's secret: `{REGISTRATION_ENV}=... loopsy relay configure {status.url}`."
        )
    elif status.state == "rejected":
        say(
            "The relay no longer knows this daemon; it will not keep retrying. `loopsy relay "
            f"configure {status.url}` registers it again (phones paired before must then pair "
            "again)."
        )
    return 0 if status.connected else 3
