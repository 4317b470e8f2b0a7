"""Register ``loopsy mcp`` with the coding agents installed here, and take it out again.

Each agent keeps its MCP servers in its own documented user-level file:

======================  =========================================  =========================
agent                   file                                       where the entry goes
======================  =========================================  =========================
Claude Code             ``~/.claude.json``                         ``mcpServers.loopsy``
Codex                   ``$CODEX_HOME/config.toml`` (``~/.codex``)  ``[mcp_servers.loopsy]``
Gemini CLI              ``~/.gemini/settings.json``                ``mcpServers.loopsy``
Cursor                  ``~/.cursor/mcp.json``                     ``mcpServers.loopsy``
Opencode                ``$XDG_CONFIG_HOME/opencode/opencode.json``  ``mcp.loopsy`` (local)
======================  =========================================  =========================

An agent counts as installed when its configuration directory exists or its program is on
``PATH``. Edits touch only the ``loopsy`` entry: the rest of the file is kept (parsed and
compared before writing), the previous file is copied to ``<file>.loopsy-backup``, and the
new one is written atomically with the old mode. A file that does not parse (JSON with
comments, TOML with an inline ``mcp_servers`` table) is left alone with an error naming it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loopsy.home import write_atomic
from loopsy.protocol.errors import LoopsyError

SERVER_NAME = "loopsy"
Action = Literal["added", "updated", "unchanged", "removed", "absent", "error"]


@dataclass(frozen=True)
class Launch:
    """How an agent starts the server: this Python, ``-m loopsy mcp``, and LOOPSY_HOME when
    it is not the default (so the agent talks to the same daemon)."""

    command: str
    args: list[str]
    env: dict[str, str]

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> Launch:
        env = os.environ if environ is None else environ
        extra = {"LOOPSY_HOME": env["LOOPSY_HOME"]} if env.get("LOOPSY_HOME") else {}
        return cls(sys.executable, ["-m", "loopsy", "mcp"], extra)


@dataclass(frozen=True)
class Agent:
    key: str
    title: str
    programs: tuple[str, ...]
    marker: Callable[[Path, Mapping[str, str]], Path]  # a directory whose presence counts
    config: Callable[[Path, Mapping[str, str]], Path]
    format: Literal["json", "toml"]
    entry: Callable[[Launch], dict[str, Any]]
    section: tuple[str, ...]  # where the entry lives, e.g. ("mcpServers",)


def _xdg(home: Path, env: Mapping[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"


def _codex_home(home: Path, env: Mapping[str, str]) -> Path:
    return Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else home / ".codex"


def _stdio(launch: Launch) -> dict[str, Any]:
    entry: dict[str, Any] = {"command": launch.command, "args": launch.args}
    if launch.env:
        entry["env"] = launch.env
    return entry


def _claude(launch: Launch) -> dict[str, Any]:
    return {"type": "stdio", **_stdio(launch)}


def _opencode(launch: Launch) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": "local",
        "command": [launch.command, *launch.args],
        "enabled": True,
    }
    if launch.env:
        entry["environment"] = launch.env
    return entry


AGENTS = (
    Agent("claude", "Claude Code", ("claude",), lambda h, e: h / ".claude",
          lambda h, e: h / ".claude.json", "json", _claude, ("mcpServers",)),
    Agent("codex", "Codex", ("codex",), _codex_home,
          lambda h, e: _codex_home(h, e) / "config.toml", "toml", _stdio, ("mcp_servers",)),
    Agent("gemini", "Gemini CLI", ("gemini",), lambda h, e: h / ".gemini",
          lambda h, e: h / ".gemini" / "settings.json", "json", _stdio, ("mcpServers",)),
    Agent("cursor", "Cursor", ("cursor-agent", "cursor"), lambda h, e: h / ".cursor",
          lambda h, e: h / ".cursor" / "mcp.json", "json", _stdio, ("mcpServers",)),
    Agent("opencode", "Opencode", ("opencode",), lambda h, e: _xdg(h, e) / "opencode",
          lambda h, e: _xdg(h, e) / "opencode" / "opencode.json", "json", _opencode, ("mcp",)),
)  # fmt: skip


@dataclass
class Change:
    agent: str
    title: str
    path: str
    action: Action
    detail: str = ""


def detected(home: Path, env: Mapping[str, str]) -> list[Agent]:
    found = []
    for agent in AGENTS:
        on_path = any(shutil.which(p, path=env.get("PATH")) for p in agent.programs)
        if on_path or agent.marker(home, env).exists() or agent.config(home, env).exists():
            found.append(agent)
    return found


# -- JSON ------------------------------------------------------------------------------------


def _load_json(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoopsyError(
            f"{path} is not plain JSON ({exc.msg}, line {exc.lineno})",
            hint=f"add the server by hand, or fix the file; Loopsy does not rewrite files "
            f"it cannot read back exactly. The entry: {SERVER_NAME!r}",
        ) from None
    if not isinstance(data, dict):
        raise LoopsyError(f"{path} does not hold a JSON object")
    return data


def _json_edit(path: Path, section: tuple[str, ...], entry: dict[str, Any] | None) -> str | None:
    """The new text, or None if nothing changes. ``entry`` None removes ours."""
    data = _load_json(path)
    node: dict[str, Any] = data
    for key in section:
        child = node.get(key)
        if child is None:
            if entry is None:
                return None
            child = node[key] = {}
        if not isinstance(child, dict):
            raise LoopsyError(f"{path}: {'.'.join(section)} is not an object")
        node = child
    if entry is None:
        if SERVER_NAME not in node:
            return None
        del node[SERVER_NAME]
    else:
        if node.get(SERVER_NAME) == entry:
            return None
        node[SERVER_NAME] = entry
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- TOML (Codex) --------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _ours(header: str) -> bool:
    name = header.replace('"', "").replace("'", "").replace(" ", "")
    return name == f"mcp_servers.{SERVER_NAME}" or name.startswith(f"mcp_servers.{SERVER_NAME}.")


def _toml_without_ours(text: str) -> str:
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        match = _HEADER.match(line)
        if match:
            skipping = _ours(match.group(1))
        if not skipping:
            kept.append(line)
    return "".join(kept)


def _toml_block(entry: dict[str, Any]) -> str:
    # JSON strings are valid TOML basic strings (same escapes for what json.dumps emits).
    lines = [f"[mcp_servers.{SERVER_NAME}]"]
    lines.append(f"command = {json.dumps(entry['command'])}")
    lines.append(f"args = [{', '.join(json.dumps(a) for a in entry['args'])}]")
    if entry.get("env"):
        lines += ["", f"[mcp_servers.{SERVER_NAME}.env]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in entry["env"].items()]
    return "\n".join(lines) + "\n"


def _toml_edit(path: Path, entry: dict[str, Any] | None) -> str | None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LoopsyError(f"{path} is not valid TOML ({exc})") from None
    servers = before.get("mcp_servers", {})
    current = servers.get(SERVER_NAME) if isinstance(servers, dict) else None
    if entry is None and current is None:
        return None
    if entry is not None and current == entry:
        return None
    stripped = _toml_without_ours(text)
    new = stripped
    if entry is not None:
        new = stripped.rstrip("\n") + ("\n\n" if stripped.strip() else "") + _toml_block(entry)
    try:
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        after = None
    expected = json.loads(json.dumps(before))
    if isinstance(expected.get("mcp_servers"), dict):
        expected["mcp_servers"].pop(SERVER_NAME, None)
        if entry is not None:
            expected["mcp_servers"][SERVER_NAME] = entry
    elif entry is not None:
        expected["mcp_servers"] = {SERVER_NAME: entry}
    if after is None or after != expected:
        raise LoopsyError(
            f"{path}: cannot edit [mcp_servers.{SERVER_NAME}] without touching other "
            "settings (is mcp_servers an inline table?)",
            hint="add the server by hand: `loopsy mcp install --dry-run` shows the entry",
        )
    return new


# -- install / uninstall -----------------------------------------------------------------------


def apply(
    *,
    remove: bool,
    dry_run: bool,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    only: list[str] | None = None,
    launch: Launch | None = None,
) -> list[Change]:
    env = os.environ if environ is None else environ
    user_home = home or Path(env.get("HOME") or Path.home())
    launch = launch or Launch.current(env)
    agents = [a for a in AGENTS if a.key in only] if only else detected(user_home, env)
    changes = []
    for agent in agents:
        path = agent.config(user_home, env)
        try:
            change = _apply_one(agent, path, None if remove else agent.entry(launch), dry_run)
        except (LoopsyError, OSError) as exc:
            message = exc.message if isinstance(exc, LoopsyError) else str(exc)
            change = Change(agent.key, agent.title, str(path), "error", message)
        changes.append(change)
    return changes


def _apply_one(agent: Agent, path: Path, entry: dict[str, Any] | None, dry_run: bool) -> Change:
    existed = path.exists()
    if agent.format == "json":
        new = _json_edit(path, agent.section, entry)
    else:
        new = _toml_edit(path, entry)
    if new is None:
        action: Action = "unchanged" if entry is not None else "absent"
        return Change(agent.key, agent.title, str(path), action)
    if entry is None:
        action = "removed"
    else:
        action = "updated" if existed and _has_entry(agent, path) else "added"
    if not dry_run:
        mode = path.stat().st_mode & 0o777 if existed else 0o600
        if existed:
            shutil.copy2(path, path.with_name(path.name + ".loopsy-backup"))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, new, mode=mode)
    detail = "" if entry is None else json.dumps(entry)
    return Change(agent.key, agent.title, str(path), action, detail)


def _has_entry(agent: Agent, path: Path) -> bool:
    if agent.format == "toml":
        servers = tomllib.loads(path.read_text(encoding="utf-8")).get("mcp_servers", {})
        return isinstance(servers, dict) and SERVER_NAME in servers
    node: Any = _load_json(path)
    for key in agent.section:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return isinstance(node, dict) and SERVER_NAME in node
