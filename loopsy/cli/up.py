"""``loopsy up`` / ``loopsy down``: the daemon plus a local relay, and a pairing QR code, in
one command, so a browser on this machine can pair at once (no Cloudflare account)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RELAY_START_TIMEOUT = 15.0
LINK_TIMEOUT = 20.0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "up",
        help="start the daemon and a local relay, and show a pairing QR code",
        description="Initialize if needed, start `loopsy relay serve` on 127.0.0.1 (unless "
        "relay.url names another relay), start the daemon connected to it, and print a QR "
        "code, URL and code to pair a phone or a browser. Safe to run again.",
    )
    p.add_argument("--relay-port", type=int, default=8787, help="local relay port (8787)")
    p.add_argument("--port", type=int, help="daemon TCP port (default: server.port)")
    p.add_argument("--lan", action="store_true", help="daemon also listens on the LAN (opt-in)")
    p.add_argument("--ttl", type=float, default=300, help="pairing offer lifetime, seconds")
    p.add_argument("--no-pair", action="store_true", help="start everything, skip the QR code")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_up)

    p = subparsers.add_parser("down", help="stop the daemon and the local relay of `loopsy up`")
    p.set_defaults(handler=cmd_down)


def _relay_paths(root: Path) -> tuple[Path, Path, Path]:
    return root / "relay", root / "relay" / "relay.pid", root / "logs" / "relay.log"


def _healthy(url: str) -> bool:
    import httpx

    try:
        response = httpx.get(f"{url}/v1/health", timeout=1.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("service") == "loopsy-relay"


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def start_local_relay(root: Path, port: int) -> str:
    from loopsy.home import write_atomic
    from loopsy.protocol.errors import LoopsyError

    if not 1 <= port <= 65535:
        # The daemon is pointed at this URL, so the port must be known before it starts.
        raise LoopsyError(f"--relay-port must be 1..65535, not {port}")

    url = f"http://127.0.0.1:{port}"
    if _healthy(url):
        return url
    data_dir, pid_file, log_file = _relay_paths(root)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = [sys.executable, "-m", "loopsy", "relay", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--data-dir", str(data_dir)]
    with open(log_file, "ab") as log:
        os.chmod(log_file, 0o600)
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    write_atomic(pid_file, f"{child.pid}\n", mode=0o600)
    deadline = time.monotonic() + RELAY_START_TIMEOUT
    while time.monotonic() < deadline:
        if _healthy(url):
            return url
        if child.poll() is not None:
            raise LoopsyError(
                f"the local relay exited during start-up (code {child.returncode})",
                hint=f"see {log_file}; is port {port} taken? try --relay-port",
            )
        time.sleep(0.1)
    raise LoopsyError(f"the local relay did not answer within {RELAY_START_TIMEOUT:.0f} s")


def cmd_up(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, note, say
    from loopsy.cli.phones import print_offer
    from loopsy.config import default_config, load_config, save_config
    from loopsy.home import LoopsyHome
    from loopsy.protocol.errors import LoopsyError

    home = LoopsyHome.from_env()
    home.check_socket_path()
    if not home.config_file.exists():
        save_config(home, default_config(home))
        note(f"Initialized Loopsy in {home.root}")
    config = load_config(home)
    url = config.relay.url
    if url is None or _is_loopback(url):
        url = start_local_relay(home.root, args.relay_port)
        note(f"Local relay: {url} (log: {_relay_paths(home.root)[2]})")
    if config.relay.url != url:
        config.relay.url = url
        save_config(home, config)
    start = [sys.executable, "-m", "loopsy", "start"]
    if args.port is not None:
        start += ["--port", str(args.port)]
    if args.lan:
        start.append("--lan")
    started = subprocess.run(start, capture_output=True, text=True, check=False)
    if started.returncode != 0:
        sys.stderr.write(started.stderr)
        raise LoopsyError("the daemon did not start", hint="see the error above")
    note(started.stdout.strip())
    status = with_client(lambda c: c.relay.configure(url))
    deadline = time.monotonic() + LINK_TIMEOUT
    while not status.connected and time.monotonic() < deadline:
        time.sleep(0.1)
        status = with_client(lambda c: c.relay.status())
    if not status.connected:
        raise LoopsyError(
            f"the daemon could not connect to the relay at {url}: {status.last_error or '?'}",
            hint="`loopsy relay status` shows the link; logs/daemon.log has details",
        )
    offer = None if args.no_pair else with_client(lambda c: c.phones.pair(ttl=args.ttl))
    if args.json:
        pair = offer.model_dump(mode="json") if offer is not None else None
        emit_json({"relay": url, "device_id": status.device_id, "pair": pair})
        return 0
    say(f"Loopsy is up: daemon connected to the relay at {url}.")
    if offer is not None:
        say()
        print_offer(offer)
        say("\n`loopsy mobile pair` makes another offer; `loopsy down` stops everything.")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from loopsy.cli.output import say
    from loopsy.home import LoopsyHome

    home = LoopsyHome.from_env()
    subprocess.run([sys.executable, "-m", "loopsy", "stop"], check=False)
    _, pid_file, _ = _relay_paths(home.root)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        say("No local relay was started by `loopsy up`.")
        return 0
    if _is_our_relay(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _is_our_relay(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _is_our_relay(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        say(f"Local relay stopped (pid {pid}).")
    pid_file.unlink(missing_ok=True)
    return 0


def _is_our_relay(pid: int) -> bool:
    """Only signal the pid if it is still a `loopsy relay serve` (pids are reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and b"relay" in cmdline and b"serve" in cmdline
