"""`loopsy mcp install|uninstall` against every agent's config format, in a temporary HOME:
other entries kept, idempotent, backups, dry runs, files it cannot safely edit left alone."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from loopsy.mcp_server.install import Launch, apply

LAUNCH = Launch("/opt/py/bin/python", ["-m", "loopsy", "mcp"], {"LOOPSY_HOME": "/tmp/lh"})


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "PATH": str(tmp_path / "bin"), "XDG_CONFIG_HOME": ""}


def run(tmp_path: Path, env: dict[str, str], **kw: object) -> dict[str, str]:
    changes = apply(home=tmp_path, environ=env, launch=LAUNCH, **kw)  # type: ignore[arg-type]
    return {c.agent: c.action for c in changes}


def seed(tmp_path: Path) -> None:
    (tmp_path / ".claude.json").write_text(
        json.dumps({"numStartups": 3, "mcpServers": {"other": {"command": "x"}}})
    )
    (tmp_path / ".codex").mkdir()
    (tmp_path / ".codex" / "config.toml").write_text(
        'model = "o4"\n\n[mcp_servers.other]\ncommand = "x"\nargs = ["y"]\n\n'
        '[mcp_servers.other.env]\nK = "v"\n\n[profiles.fast]\nmodel = "mini"\n'
    )
    (tmp_path / ".gemini").mkdir()
    (tmp_path / ".gemini" / "settings.json").write_text('{"theme": "dark"}')
    (tmp_path / ".cursor").mkdir()
    (tmp_path / ".config" / "opencode").mkdir(parents=True)
    (tmp_path / ".config" / "opencode" / "opencode.json").write_text(
        json.dumps({"$schema": "https://opencode.ai/config.json", "mcp": {"o": {"type": "remote"}}})
    )


def test_install_everywhere_keeps_the_rest(tmp_path: Path, env: dict[str, str]) -> None:
    seed(tmp_path)
    assert run(tmp_path, env, remove=False, dry_run=False) == {
        "claude": "added",
        "codex": "added",
        "gemini": "added",
        "cursor": "added",
        "opencode": "added",
    }
    claude = json.loads((tmp_path / ".claude.json").read_text())
    assert claude["numStartups"] == 3 and "other" in claude["mcpServers"]
    assert claude["mcpServers"]["loopsy"] == {
        "type": "stdio",
        "command": "/opt/py/bin/python",
        "args": ["-m", "loopsy", "mcp"],
        "env": {"LOOPSY_HOME": "/tmp/lh"},
    }
    codex = tomllib.loads((tmp_path / ".codex" / "config.toml").read_text())
    assert codex["model"] == "o4" and codex["profiles"]["fast"]["model"] == "mini"
    assert codex["mcp_servers"]["other"] == {"command": "x", "args": ["y"], "env": {"K": "v"}}
    assert codex["mcp_servers"]["loopsy"]["args"] == ["-m", "loopsy", "mcp"]
    assert codex["mcp_servers"]["loopsy"]["env"] == {"LOOPSY_HOME": "/tmp/lh"}
    gemini = json.loads((tmp_path / ".gemini" / "settings.json").read_text())
    assert gemini["theme"] == "dark" and gemini["mcpServers"]["loopsy"]["command"]
    cursor = json.loads((tmp_path / ".cursor" / "mcp.json").read_text())
    assert cursor["mcpServers"]["loopsy"]["args"] == ["-m", "loopsy", "mcp"]
    opencode = json.loads((tmp_path / ".config" / "opencode" / "opencode.json").read_text())
    assert opencode["mcp"]["o"] == {"type": "remote"}
    assert opencode["mcp"]["loopsy"] == {
        "type": "local",
        "command": ["/opt/py/bin/python", "-m", "loopsy", "mcp"],
        "enabled": True,
        "environment": {"LOOPSY_HOME": "/tmp/lh"},
    }
    assert (tmp_path / ".claude.json.loopsy-backup").exists()
    # again: nothing to do, nothing rewritten
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    assert set(run(tmp_path, env, remove=False, dry_run=False).values()) == {"unchanged"}
    assert before == {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}


def test_uninstall_restores_the_others(tmp_path: Path, env: dict[str, str]) -> None:
    seed(tmp_path)
    codex_before = tomllib.loads((tmp_path / ".codex" / "config.toml").read_text())
    run(tmp_path, env, remove=False, dry_run=False)
    assert set(run(tmp_path, env, remove=True, dry_run=False).values()) == {"removed"}
    assert tomllib.loads((tmp_path / ".codex" / "config.toml").read_text()) == codex_before
    claude = json.loads((tmp_path / ".claude.json").read_text())
    assert "loopsy" not in claude["mcpServers"] and "other" in claude["mcpServers"]
    assert set(run(tmp_path, env, remove=True, dry_run=False).values()) == {"absent"}


def test_dry_run_writes_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    seed(tmp_path)
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    assert set(run(tmp_path, env, remove=False, dry_run=True).values()) == {"added"}
    assert before == {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}


def test_only_agents_found_are_touched(tmp_path: Path, env: dict[str, str]) -> None:
    assert run(tmp_path, env, remove=False, dry_run=False) == {}
    (tmp_path / "bin").mkdir()
    program = tmp_path / "bin" / "gemini"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert run(tmp_path, env, remove=False, dry_run=False) == {"gemini": "added"}
    assert not (tmp_path / ".claude.json").exists()


def test_unreadable_files_are_left_alone(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / ".cursor").mkdir()
    jsonc = '{\n  // my servers\n  "mcpServers": {}\n}\n'
    (tmp_path / ".cursor" / "mcp.json").write_text(jsonc)
    (tmp_path / ".codex").mkdir()
    inline = 'mcp_servers = { other = { command = "x" } }\n'
    (tmp_path / ".codex" / "config.toml").write_text(inline)
    changes = apply(home=tmp_path, environ=env, launch=LAUNCH, remove=False, dry_run=False)
    by_agent = {c.agent: c for c in changes}
    assert by_agent["cursor"].action == "error" and "not plain JSON" in by_agent["cursor"].detail
    assert by_agent["codex"].action == "error" and "inline" in by_agent["codex"].detail
    assert (tmp_path / ".cursor" / "mcp.json").read_text() == jsonc
    assert (tmp_path / ".codex" / "config.toml").read_text() == inline


def test_file_mode_is_kept(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / ".gemini").mkdir()
    settings = tmp_path / ".gemini" / "settings.json"
    settings.write_text("{}")
    settings.chmod(0o640)
    run(tmp_path, env, remove=False, dry_run=False)
    assert settings.stat().st_mode & 0o777 == 0o640
