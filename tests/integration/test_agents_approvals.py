"""The agent registry (fake agent binaries on PATH) and approvals for auto-approve."""

from __future__ import annotations

import stat
from pathlib import Path

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Conflict, Forbidden, ValidationFailed

pytestmark = pytest.mark.anyio


def fake(bindir: Path, name: str, help_text: str = "", version: str = "1.2.3") -> None:
    script = bindir / name
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "{name} {version}"; exit 0; fi\n'
        f'if [ "$1" = "--help" ]; then printf "%s\\n" "{help_text}"; exit 0; fi\n'
        'echo "ARGS:$*"; exec sleep 600\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bindir(home: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")
    return directory


async def test_detection_versions_and_codex_flag_by_help(
    bindir: Path, client: LoopsyClient
) -> None:
    fake(bindir, "claude")
    fake(bindir, "codex", help_text="--full-auto  run without asking")
    agents = {a.name: a for a in await client.agents.list()}
    assert agents["claude"].detected and agents["claude"].version == "claude 1.2.3"
    assert agents["claude"].auto_approve_flag == "--dangerously-skip-permissions"
    assert agents["codex"].auto_approve_flag == "--full-auto"
    assert not agents["gemini"].detected and "not on PATH" in agents["gemini"].detection
    assert agents["opencode"].auto_approve_flag is None
    assert agents["shell"].detected
    fake(bindir, "codex", help_text="--dangerously-bypass-approvals-and-sandbox  yolo")
    agents = {a.name: a for a in await client.agents.list(refresh=True)}
    assert agents["codex"].auto_approve_flag == "--dangerously-bypass-approvals-and-sandbox"
    with pytest.raises(ValidationFailed, match="not installed"):
        await client.sessions.create("gemini")


async def test_auto_approve_waits_for_the_machine(
    bindir: Path, client: LoopsyClient, tcp_client: LoopsyClient, daemon: Services
) -> None:
    fake(bindir, "claude")
    (bindir / "notify-send").write_text(f"#!/bin/sh\necho \"$@\" >> {bindir}/notified\n")
    (bindir / "notify-send").chmod(0o755)
    import os

    os.environ["DISPLAY"] = ":99"
    try:
        events = client.events.stream(["approvals"])
        await events.__anext__()
        info = await tcp_client.sessions.create("claude", auto_approve=True, name="yolo")
        assert info.state == "pending" and info.auto_approve == "pending" and info.approval_id
        requested = await events.__anext__()
        assert requested["type"] == "approval.requested"
        assert requested["data"]["requested_by"] == "key:api"
        pending = await tcp_client.approvals.list("pending")
        assert [a.id for a in pending] == [info.approval_id]
        with pytest.raises(Forbidden, match="not available to key callers"):
            await tcp_client.approvals.allow(info.approval_id)
        allowed = await client.approvals.allow(info.approval_id)
        assert allowed.state == "allowed" and allowed.decided_by == "local:local"
        await events.aclose()
        running = await client.sessions.get("yolo")
        assert running.state == "running" and running.auto_approve == "on"
        assert running.argv[:2] == ["claude", "--dangerously-skip-permissions"]
        out = await client.sessions.read("yolo", 0, wait=5.0)
        assert "ARGS:--dangerously-skip-permissions" in out.data
        with pytest.raises(Conflict, match="already allowed"):
            await client.approvals.deny(info.approval_id)
        with anyio.fail_after(10):
            while not (bindir / "notified").exists():
                await anyio.sleep(0.02)
        assert info.approval_id in (bindir / "notified").read_text()
    finally:
        del os.environ["DISPLAY"]
    records = daemon.audit.tail(50)
    assert any(r.get("event") == "approval.allowed" for r in records)


async def test_denied_auto_approve_never_runs(bindir: Path, client: LoopsyClient) -> None:
    fake(bindir, "claude")
    info = await client.sessions.create("claude", auto_approve=True, name="nope")
    assert info.approval_id
    await client.approvals.deny(info.approval_id)
    done = await client.sessions.get("nope")
    assert done.state == "exited" and done.exit and done.exit.reason == "denied"
    assert done.auto_approve == "denied" and done.pid is None


async def test_opencode_and_custom_argv_have_no_auto_approve(
    bindir: Path, client: LoopsyClient
) -> None:
    fake(bindir, "opencode")
    with pytest.raises(ValidationFailed, match="no auto-approve"):
        await client.sessions.create("opencode", auto_approve=True)
    assert await client.approvals.list() == []


async def test_pin_edit_unpin_custom_commands(
    bindir: Path, client: LoopsyClient, daemon: Services
) -> None:
    info = await client.agents.pin("watch", ["/bin/sh", "-c", "echo pinned; exec sleep 600"],
                                   label="Watcher", cwd="/tmp")
    assert info.kind == "custom" and info.detected and info.label == "Watcher"
    assert "watch" in daemon.config.current.agents.custom
    session = await client.sessions.create("watch")
    assert session.cwd == "/tmp" and session.agent == "watch"
    await client.agents.pin("watch", ["/bin/true"], label="Changed")
    assert {a.name: a for a in await client.agents.list()}["watch"].argv == ["/bin/true"]
    with pytest.raises(Conflict, match="built-in"):
        await client.agents.pin("claude", ["/bin/true"])
    with pytest.raises(ValidationFailed):
        await client.agents.pin("bad name", ["/bin/true"])
    await client.agents.unpin("watch")
    assert "watch" not in {a.name for a in await client.agents.list()}
    from loopsy.protocol.errors import NotFound

    with pytest.raises(NotFound):
        await client.agents.unpin("watch")
    assert any(r.get("event") == "agents.pinned" for r in daemon.audit.tail(50))
