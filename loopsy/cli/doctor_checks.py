"""The core checks of ``loopsy doctor``: config, permissions, daemon, port, relay."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

from loopsy.cli.doctor import CheckResult, Probe
from loopsy.protocol.errors import LoopsyError

CONNECT_TIMEOUT = 2.0
RELAY_TIMEOUT = 5.0
MAX_ENTRIES = 10_000  # files looked at under LOOPSY_HOME


def check_config(probe: Probe) -> CheckResult:
    config = probe.config
    if isinstance(config, Exception):
        hint = getattr(config, "hint", None) or "fix config.yaml or run `loopsy init --force`"
        return CheckResult("config", "fail", str(config), hint)
    return CheckResult("config", "ok", f"{probe.home.config_file} is valid")


def check_permissions(probe: Probe) -> CheckResult:
    home = probe.home
    root = home.root
    if not root.exists():
        return CheckResult("permissions", "fail", f"{root} does not exist", "run `loopsy init`")
    problems: list[str] = []
    fixes: list[str] = []
    uid = os.getuid()
    for path, want in ((root, 0o700), (home.config_file, 0o600), (home.socket, 0o600)):
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid != uid:
            problems.append(f"{path} belongs to uid {st.st_uid}, not you ({uid})")
            fixes.append(f"chown {uid} {path}")
        if mode & 0o077:
            problems.append(f"{path} is mode {mode:04o} (want {want:04o})")
            fixes.append(f"chmod {want:o} {path}")
    exposed = _group_or_other_accessible(root)
    if exposed:
        shown = ", ".join(f"{p} ({m:04o})" for p, m in exposed[:3])
        more = f" and {len(exposed) - 3} more" if len(exposed) > 3 else ""
        problems.append(f"group/other can access {shown}{more}")
        fixes.append(f"chmod -R go-rwx {root}")
    if problems:
        return CheckResult("permissions", "fail", "; ".join(problems), " && ".join(fixes))
    return CheckResult("permissions", "ok", f"{root} and everything in it is private to you")


def _group_or_other_accessible(root: Path) -> list[tuple[Path, int]]:
    found: list[tuple[Path, int]] = []
    seen = 0
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            seen += 1
            if seen > MAX_ENTRIES:
                return found
            path = Path(directory) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue  # a link's own mode means nothing; its target is checked where it is
            mode = stat.S_IMODE(st.st_mode)
            if mode & 0o077:
                found.append((path, mode))
    return found


def check_daemon(probe: Probe) -> CheckResult:
    from loopsy import __version__

    status = probe.status
    error = probe.status_error
    if status is None and error is not None:
        return CheckResult(
            "daemon",
            "fail",
            str(error) if isinstance(error, LoopsyError) else f"cannot reach it: {error}",
            "`loopsy stop` stops it (killing it if it must), then `loopsy start`; see "
            "logs/daemon.log",
        )
    if status is None:
        stale = " (a stale socket file is left)" if probe.home.socket.exists() else ""
        return CheckResult("daemon", "warn", f"not running{stale}", "start it: `loopsy start`")
    if status.version != __version__:
        return CheckResult(
            "daemon",
            "fail",
            f"running (pid {status.pid}) version {status.version}, but the installed "
            f"package is {__version__}",
            "restart it to run the installed version: `loopsy stop && loopsy start`",
        )
    return CheckResult("daemon", "ok", f"running (pid {status.pid}, version {status.version})")


def check_port(probe: Probe) -> CheckResult:
    status = probe.status
    if status is not None:
        address = next((x.address for x in status.listeners if x.kind == "tcp"), None)
        if address is None:
            return CheckResult(
                "port",
                "fail",
                "the daemon reports no TCP listener",
                "restart it: `loopsy stop && loopsy start`",
            )
        host, _, port_text = address.rpartition(":")
        port = int(port_text)
        answer = _health(_reachable_host(host), port)
        if answer == "loopsy":
            return CheckResult("port", "ok", f"{address} answers as Loopsy")
        return CheckResult(
            "port",
            "fail",
            f"the daemon listens on {address}, but it does not answer there ({answer})",
            "a firewall or another program may be in the way; see logs/daemon.log",
        )
    if probe.status_error is not None:
        return CheckResult("port", "warn", "unknown: the daemon does not answer")
    config = probe.config
    if isinstance(config, Exception):
        return CheckResult("port", "warn", "unknown: config.yaml does not load")
    port = config.server.port
    host = _reachable_host(config.server.host)
    answer = _health(host, port)
    if answer == "closed":
        return CheckResult("port", "ok", f"{port} is free for the daemon")
    hint = (
        "stop that program, or choose another port: server.port in config.yaml or "
        "`loopsy start --port N`"
    )
    if answer == "loopsy":
        return CheckResult(
            "port", "fail", f"another Loopsy daemon (another LOOPSY_HOME) uses port {port}", hint
        )
    return CheckResult("port", "fail", f"another program listens on port {port} ({answer})", hint)


def _reachable_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104


def _health(host: str, port: int) -> str:
    """'loopsy' if a Loopsy daemon answers /api/v1/health there, 'closed' if nothing
    listens, else a short description of what does."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except ConnectionRefusedError:
        return "closed"
    except OSError as exc:
        return f"cannot connect: {exc.strerror or exc}"
    import httpx

    try:
        response = httpx.get(f"http://{host}:{port}/api/v1/health", timeout=CONNECT_TIMEOUT)
        body: Any = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"not Loopsy: {type(exc).__name__}"
    if isinstance(body, dict) and body.get("service") == "loopsy":
        return "loopsy"
    return f"not Loopsy: HTTP {response.status_code}"


def check_relay(probe: Probe) -> CheckResult:
    config = probe.config
    if isinstance(config, Exception):
        return CheckResult("relay", "warn", "unknown: config.yaml does not load")
    url = config.relay.url
    if url is None:
        return CheckResult("relay", "ok", "not configured (set relay.url to reach your phone)")
    import httpx

    hint = "check relay.url in config.yaml; `loopsy relay serve` runs a relay yourself"
    try:
        response = httpx.get(f"{url}/v1/health", timeout=RELAY_TIMEOUT)
    except httpx.HTTPError as exc:
        return CheckResult("relay", "fail", f"cannot reach {url}: {exc}", hint)
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("service") != "loopsy-relay":
        message = f"{url} answers, but not as a Loopsy relay (HTTP {response.status_code})"
        return CheckResult("relay", "fail", message, hint)
    if response.status_code != 200 or body.get("ok") is not True:
        error = body.get("error")
        detail = f": {error['message']}" if isinstance(error, dict) and "message" in error else ""
        message = f"{url} is not ready (HTTP {response.status_code}){detail}"
        return CheckResult("relay", "fail", message, hint)
    refused = _relay_refusal(probe)
    if refused is not None:
        return refused
    return CheckResult("relay", "ok", f"{url} answers (version {body.get('version', '?')})")


def _relay_refusal(probe: Probe) -> CheckResult | None:
    """A relay that answers health checks can still refuse this daemon (its database was
    reset, a Worker's PAIR_TOKEN_SECRET changed): the running daemon's link knows."""
    if probe.status is None:
        return None
    from loopsy.cli.connect import with_client
    from loopsy.protocol.errors import LoopsyError

    try:
        relay = with_client(lambda client: client.relay.status())
    except (LoopsyError, OSError):
        return None
    if relay.state != "rejected":
        return None
    if relay.device_id is None:  # its registration was refused: a secret is wanted
        hint = f"`LOOPSY_RELAY_REGISTRATION_SECRET=... loopsy relay configure {relay.url}`"
    else:
        hint = (
            f"`loopsy relay configure {relay.url}` registers this daemon again (phones "
            "paired before must then pair again: `loopsy mobile pair`)"
        )
    return CheckResult("relay", "fail", relay.last_error or f"{relay.url} refused", hint)


checks = [check_config, check_permissions, check_daemon, check_port, check_relay]
