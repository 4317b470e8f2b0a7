"""``loopsy doctor`` checks of the mesh and the MCP server: agents registered, peers up."""

from __future__ import annotations

from loopsy.cli.doctor import CheckResult, Probe


def check_mcp(probe: Probe) -> CheckResult:
    """Is `loopsy mcp` registered, up to date, in every coding agent found here?"""
    try:
        import mcp.server.mcpserver  # noqa: F401  (the SDK `loopsy mcp` serves with)
    except ImportError as exc:
        return CheckResult(
            "mcp",
            "fail",
            f"the MCP SDK does not import: {exc}",
            "reinstall Loopsy (pip install -e .)",
        )
    from loopsy.mcp_server.install import apply

    changes = apply(remove=False, dry_run=True)
    if not changes:
        return CheckResult("mcp", "ok", "no coding agent found here (nothing to register)")
    missing = [
        f"{c.title} ({c.action.replace('added', 'absent').replace('updated', 'outdated')})"
        for c in changes
        if c.action in ("added", "updated")
    ]
    broken = [f"{c.title}: {c.detail}" for c in changes if c.action == "error"]
    registered = [c.title for c in changes if c.action == "unchanged"]
    if broken:
        return CheckResult(
            "mcp",
            "warn",
            "; ".join(broken),
            "fix the file, or add the server by hand (`loopsy mcp install --dry-run`)",
        )
    if missing:
        return CheckResult(
            "mcp", "warn", f"not registered in {', '.join(missing)}", "run `loopsy mcp install`"
        )
    return CheckResult("mcp", "ok", f"registered in {', '.join(registered)}")


def check_peers(probe: Probe) -> CheckResult:
    """Does the daemon listen for peers, and are the paired ones reachable?"""
    status = probe.status
    if status is None and probe.status_error is not None:
        return CheckResult("peers", "warn", "unknown: the daemon does not answer")
    if status is None:
        return CheckResult(
            "peers",
            "warn",
            "cannot check peers: the daemon is not running",
            "start it with `loopsy start`",
        )
    from loopsy.cli.connect import with_client
    from loopsy.protocol.errors import LoopsyError

    try:
        peers = with_client(lambda client: client.peers.list(refresh=True))
    except LoopsyError as exc:
        return CheckResult("peers", "fail", f"the peer registry does not answer: {exc.message}")
    mesh = next((x.address for x in status.listeners if x.kind == "mesh"), None)
    paired = [p for p in peers if p.paired]
    offline = [p for p in paired if p.status != "online"]
    where = f"mesh on {mesh}" if mesh else "mesh off (`loopsy start --lan` to pair machines)"
    if offline:
        names = ", ".join(f"{p.name} ({p.last_error or p.status})" for p in offline)
        return CheckResult(
            "peers",
            "warn",
            f"{where}; offline: {names}",
            "`loopsy peers status NAME` checks one; `loopsy peers remove` "
            "forgets a machine for good",
        )
    return CheckResult(
        "peers",
        "ok",
        f"{where}; {len(paired)} paired, all online" if paired else f"{where}; no paired peers",
    )


checks = [check_mcp, check_peers]
