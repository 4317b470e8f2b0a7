"""``loopsy init``, ``start``, ``stop``, ``status``: set up and run the daemon."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "init",
        help="create config.yaml and an API key",
        description="Create $LOOPSY_HOME with config.yaml (0600), a fresh API key and a node "
        "id. Safe to run again: an existing config is kept unless --force.",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="regenerate config.yaml with defaults and a new API key (the node id is kept)",
    )
    p.add_argument(
        "--mcp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="register `loopsy mcp` with the coding agents found here, as `loopsy mcp "
        "install` does (default: yes when run in a terminal)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_init)

    p = subparsers.add_parser(
        "start",
        help="start the daemon",
        description="Start the daemon in the background and wait until it answers. "
        "It listens on $LOOPSY_HOME/loopsyd.sock and on TCP 127.0.0.1:PORT.",
    )
    p.add_argument("--port", type=int, help="TCP port (default: server.port, 19532)")
    p.add_argument(
        "--lan",
        action="store_true",
        help="also listen on the LAN (all interfaces); off by default, opt in only on "
        "networks you trust",
    )
    p.add_argument(
        "--foreground", action="store_true", help="run in this terminal; stop with Ctrl-C"
    )
    p.set_defaults(handler=cmd_start)

    p = subparsers.add_parser("stop", help="stop the daemon (sessions keep running)")
    p.set_defaults(handler=cmd_stop)

    p = subparsers.add_parser(
        "status",
        help="show whether the daemon runs (exit 0 only if it does)",
        description="Show the daemon's pid, version, address and uptime. "
        "Exits 0 while the daemon runs, 3 when it does not.",
    )
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(handler=cmd_status)


def cmd_init(args: argparse.Namespace) -> int:
    from loopsy.cli.output import emit_json, fields, say
    from loopsy.config import default_config, load_config, save_config
    from loopsy.home import LoopsyHome
    from loopsy.protocol.errors import ConfigError

    home = LoopsyHome.from_env()
    home.ensure()
    existing = None
    try:
        existing = load_config(home)
    except ConfigError:
        if home.config_file.exists() and not args.force:
            raise
    if existing is not None and not args.force:
        created = False
        config = existing
    else:
        node_id = existing.node.id if existing else _salvage_node_id(home)
        config = default_config(home, node_id=node_id)
        save_config(home, config)
        created = True
    result = {
        "home": str(home.root),
        "config": str(home.config_file),
        "node_id": config.node.id,
        "node_name": config.node.name,
        "created": created,
    }
    mcp = _register_mcp(args.mcp)
    if mcp is not None:
        result["mcp"] = mcp
    if args.json:
        emit_json(result)
        return 0
    if created:
        say(f"Initialized Loopsy in {home.root}")
    else:
        say(f"Loopsy is already initialized in {home.root} (config kept; --force to regenerate)")
    fields([("config", home.config_file), ("node", f"{config.node.name} ({config.node.id})")])
    for change in mcp or []:
        say(f"MCP server for {change['title']}: {change['action']} ({change['path']})")
    if mcp is None:
        say("Give your coding agents the loopsy_* tools with `loopsy mcp install`.")
    say("Next: `loopsy start`; `loopsy key show` prints the API key for TCP clients.")
    return 0


def _register_mcp(wanted: bool | None) -> list[dict[str, Any]] | None:
    """`loopsy mcp install` as part of init: asked for, or when a person runs it (never
    silently from scripts, which would edit agents' files nobody looked at)."""
    if wanted is None:
        wanted = sys.stdin.isatty() and sys.stdout.isatty()
    if not wanted:
        return None
    from dataclasses import asdict

    from loopsy.mcp_server.install import apply

    return [asdict(c) for c in apply(remove=False, dry_run=False)]


def _salvage_node_id(home: Any) -> str | None:
    """Keep the node id across ``init --force`` even when the old config is broken."""
    import re

    try:
        text = home.config_file.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^\s+id:\s*['\"]?([0-9a-f]{32})", text, re.MULTILINE)
    return match.group(1) if match else None


def cmd_start(args: argparse.Namespace) -> int:
    from loopsy.cli.output import note, say
    from loopsy.config import default_config, load_config, save_config
    from loopsy.daemon.server import ServeOptions, run_daemon
    from loopsy.home import LoopsyHome

    home = LoopsyHome.from_env()
    home.check_socket_path()
    if not home.config_file.exists():
        save_config(home, default_config(home))
        note(f"Initialized Loopsy in {home.root}")
    config = load_config(home)  # fail here, with the key named, not in the child
    running = _running_status()
    if running is not None:
        say(f"The daemon is already running (pid {running.pid}, {_address(running)}).")
        return 0
    port = args.port
    if port is not None and not 0 <= port <= 65535:
        from loopsy.protocol.errors import ConfigError

        raise ConfigError(f"--port must be 0..65535, not {port}")
    if args.foreground:
        run_daemon(home, ServeOptions(port=port, lan=args.lan), foreground=True)
        return 0
    command = [sys.executable, "-m", "loopsy", "start", "--foreground"]
    if port is not None:
        command += ["--port", str(port)]
    if args.lan:
        command.append("--lan")
    home.ensure()
    startup_log = home.logs_dir / "daemon.stderr"
    # 0600 like everything under LOOPSY_HOME (`loopsy doctor` checks it).
    fd = os.open(startup_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as err:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "LOOPSY_HOME": str(home.root)},
        )
    status = _wait_until_up(child, home, startup_log)
    if status.pid != child.pid:  # another `loopsy start` won the race
        say(f"The daemon is already running (pid {status.pid}, {_address(status)}).")
        return 0
    say(f"Loopsy daemon started (pid {status.pid}, {_address(status)}).")
    if status.lan:
        note("Listening on the LAN: other machines on this network can reach the port.")
    del config
    return 0


def _wait_until_up(child: subprocess.Popen[bytes], home: Any, startup_log: Path) -> Any:
    from loopsy.protocol.errors import LoopsyError

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        status = _running_status()
        if status is not None and status.pid == child.pid:
            return status
        code = child.poll()
        if code is not None:
            status = _running_status()
            if status is not None:
                return status  # started meanwhile by someone else: it holds the lock
            if _pid_file_locked(home):
                time.sleep(0.05)  # another daemon holds the lock and is starting up
                continue
            detail, hint = _last_error(startup_log)
            raise LoopsyError(
                f"the daemon exited during start-up (code {code}){': ' + detail if detail else ''}",
                hint=f"{hint + '; ' if hint else ''}see {startup_log} and logs/daemon.log",
            )
        time.sleep(0.05)
    raise LoopsyError(
        f"the daemon did not answer within {START_TIMEOUT:.0f} s",
        hint=f"see {startup_log}; `loopsy stop` cleans up",
    )


def _last_error(path: Path) -> tuple[str, str]:
    """The daemon's last ``loopsy: error:`` line and the ``hint:`` line after it, if any."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    except OSError:
        return "", ""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("loopsy: error:"):
            after = lines[i + 1] if i + 1 < len(lines) else ""
            hint = after.removeprefix("hint:").strip() if after.startswith("hint:") else ""
            return lines[i].removeprefix("loopsy: error:").strip(), hint
    return (str(lines[-1]) if lines else ""), ""


def _running_status() -> Any:
    """The daemon's status over the unix socket, or None if none answers.

    Through the standard-library probe, not the full client: importing httpx, anyio and
    pydantic would be most of `loopsy status`'s run time.
    """
    from loopsy.client.probe import local_status

    return local_status()


def _address(status: Any) -> str:
    tcp = next((lst.address for lst in status.listeners if lst.kind == "tcp"), "?")
    return f"http://{tcp}"


def cmd_stop(args: argparse.Namespace) -> int:
    from loopsy.cli.output import say
    from loopsy.home import LoopsyHome
    from loopsy.protocol.errors import LoopsyError

    home = LoopsyHome.from_env()
    try:
        status = _running_status()
    except LoopsyError:
        status = None  # it does not answer (stuck?): the pid file says who to stop
    pid = status.pid if status is not None else _pid_from_file(home)
    if pid is None:
        say("The daemon is not running.")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        say("The daemon is not running.")
        return 0
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(pid):
            say(f"Loopsy daemon stopped (pid {pid}).")
            return 0
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise LoopsyError(
        f"the daemon (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s and was killed",
        hint="see logs/daemon.log",
    )


def _pid_from_file(home: Any) -> int | None:
    """A pid from daemon.pid, only if that process still holds the lock (a live daemon)."""
    import fcntl

    try:
        with open(home.pid_file, encoding="utf-8") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = f.read().strip()
                return int(text) if text.isdigit() else None
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            return None
    except FileNotFoundError:
        return None


def _pid_file_locked(home: Any) -> bool:
    """True while a daemon holds daemon.pid's lock (even before it wrote its pid)."""
    import fcntl

    try:
        with open(home.pid_file, encoding="utf-8") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def cmd_status(args: argparse.Namespace) -> int:
    from loopsy.cli.output import duration, emit_json, fields, say

    status = _running_status()
    if status is None:
        if args.json:
            emit_json({"running": False})
        else:
            say("The daemon is not running. Start it with `loopsy start`.")
        return 3
    if args.json:
        emit_json({"running": True, **status.raw})
        return 0
    say("Loopsy daemon is running.")
    fields(
        [
            ("pid", status.pid),
            ("version", status.version),
            ("node", f"{status.node_name} ({status.node_id})"),
            ("address", _address(status)),
            ("socket", next((x.address for x in status.listeners if x.kind == "unix"), "-")),
            ("mesh", next((x.address for x in status.listeners if x.kind == "mesh"), "off")),
            ("lan", "exposed" if status.lan else "no (loopback only)"),
            ("uptime", duration(status.uptime)),
        ]
    )
    return 0
