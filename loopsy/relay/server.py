"""Run the self-hosted relay: bind, serve the relay app with uvicorn, stop on a signal.

``permessage-deflate`` is off: everything through the relay is ciphertext, which does not
compress, and deflate would cost CPU on every frame (ttyd with it falls from 0.80x to 0.31x
of the raw PTY rate on this machine kind).
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from loopsy.protocol import relay as wire
from loopsy.protocol.errors import ConfigError
from loopsy.relay.app import Relay, RelaySettings
from loopsy.relay.store import RelayStore

log = logging.getLogger("loopsy.relay")

DEFAULT_PORT = 8787


@dataclass(frozen=True)
class RelayOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Path(".")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    settings: RelaySettings = field(default_factory=RelaySettings)


def default_app_dir() -> Path:
    """``mobile_web/dist`` beside the package (a source checkout or an editable install)."""
    return Path(__file__).resolve().parent.parent.parent / "mobile_web" / "dist"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use",
                hint="choose another with --port, or stop the program using it",
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def uvicorn_config(app: object, options: RelayOptions) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        lifespan="on",
        log_level="warning",
        access_log=False,
        server_header=False,
        ws_per_message_deflate=False,
        ws_max_size=wire.MAX_MESSAGE + wire.LINK_HEADER.size,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=3,
        ssl_certfile=str(options.tls_cert) if options.tls_cert else None,
        ssl_keyfile=str(options.tls_key) if options.tls_key else None,
    )


def run_relay(options: RelayOptions) -> None:
    """Serve until SIGINT/SIGTERM. Prints ``loopsy relay listening on URL`` once bound."""
    if (options.tls_cert is None) != (options.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    options.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(options.data_dir, 0o700)
    store = RelayStore(options.data_dir / "relay.db")
    relay = Relay(store, options.settings, clock=time.time, randbytes=secrets.token_bytes)
    sock = bind(options.host, options.port)
    port = sock.getsockname()[1]
    scheme = "https" if options.tls_cert else "http"
    host = f"[{options.host}]" if ":" in options.host else options.host
    server = uvicorn.Server(uvicorn_config(relay.app(), options))
    sys.stdout.write(f"loopsy relay listening on {scheme}://{host}:{port}\n")
    sys.stdout.flush()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        store.close()
