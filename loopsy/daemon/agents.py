"""The agent registry: what a session can run, how each agent is detected, and the flag
its auto-approve mode adds.

Built in: ``shell`` ($SHELL -l, else /bin/sh), ``claude``, ``codex``, ``gemini``,
``cursor-agent``, ``opencode``; plus custom commands pinned in config (``agents.custom``).
An agent is *detected* when its binary is on PATH; its ``--version`` is asked with a short
timeout and cached (per binary path and mtime), so listing agents stays fast.

Codex changed its flag: current builds take ``--dangerously-bypass-approvals-and-sandbox``,
older ones ``--full-auto``. The installed CLI's ``--help`` decides.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from loopsy.config import Config, CustomCommand
from loopsy.protocol.agents import AgentInfo, CustomCommandPut
from loopsy.protocol.errors import Conflict, NotFound, ValidationFailed

if TYPE_CHECKING:
    from loopsy.daemon.services import ConfigStore

PROBE_TIMEOUT = 3.0
CACHE_TTL = 600.0
CODEX_NEW = "--dangerously-bypass-approvals-and-sandbox"
CODEX_OLD = "--full-auto"


@dataclass(frozen=True)
class Builtin:
    name: str
    label: str
    binary: str | None  # None: the user's shell
    approve_flag: str | None = None
    probe_help: bool = False  # decide the flag from --help (codex)


BUILTINS: tuple[Builtin, ...] = (
    Builtin("shell", "Shell", None),
    Builtin("claude", "Claude Code", "claude", "--dangerously-skip-permissions"),
    Builtin("codex", "Codex CLI", "codex", CODEX_NEW, probe_help=True),
    Builtin("gemini", "Gemini CLI", "gemini", "--yolo"),
    Builtin("cursor-agent", "Cursor Agent", "cursor-agent", "--force"),
    Builtin("opencode", "opencode", "opencode", None),
)
BUILTIN_NAMES = frozenset(b.name for b in BUILTINS)


@dataclass(frozen=True)
class Launch:
    """What a session of an agent runs."""

    agent: str | None
    argv: list[str]
    cwd: str | None
    approve_flag: str | None

    def with_approval(self, on: bool) -> list[str]:
        if not on or self.approve_flag is None:
            return list(self.argv)
        return [self.argv[0], self.approve_flag, *self.argv[1:]]


@dataclass(frozen=True)
class Probe:
    version: str | None
    approve_flag: str | None
    note: str


def user_shell(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    shell = env.get("SHELL", "")
    if shell and os.path.isabs(shell) and os.access(shell, os.X_OK):
        return shell
    return "/bin/sh"


class AgentRegistry:
    def __init__(self, config: ConfigStore, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self._cache: dict[tuple[str, str, int], tuple[float, Probe]] = {}

    # -- listing ---------------------------------------------------------------------------

    async def list_agents(self, refresh: bool = False) -> list[AgentInfo]:
        infos = [await self._builtin_info(b, refresh) for b in BUILTINS]
        for name, command in sorted(self.config.current.agents.custom.items()):
            infos.append(_custom_info(name, command))
        return infos

    async def _builtin_info(self, agent: Builtin, refresh: bool) -> AgentInfo:
        if agent.binary is None:
            shell = user_shell()
            return AgentInfo(
                name=agent.name,
                label=agent.label,
                kind="builtin",
                argv=[shell, "-l"],
                detected=True,
                path=shell,
                detection="$SHELL"
                if shell != "/bin/sh"
                else "$SHELL unset or not executable: /bin/sh",
            )
        path = shutil.which(agent.binary)
        if path is None:
            return AgentInfo(
                name=agent.name,
                label=agent.label,
                kind="builtin",
                argv=[agent.binary],
                detected=False,
                detection=f"{agent.binary} is not on PATH",
                auto_approve_flag=agent.approve_flag,
            )
        probe = await self._probe(agent, path, refresh)
        return AgentInfo(
            name=agent.name,
            label=agent.label,
            kind="builtin",
            argv=[agent.binary],
            detected=True,
            path=path,
            version=probe.version,
            detection=probe.note,
            auto_approve_flag=probe.approve_flag,
        )

    async def _probe(self, agent: Builtin, path: str, refresh: bool) -> Probe:
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            mtime = 0
        key = (agent.name, path, mtime)
        cached = self._cache.get(key)
        now = self.clock()
        if cached is not None and not refresh and now - cached[0] < CACHE_TTL:
            return cached[1]
        version = _first_line(await _run(path, "--version"))
        flag = agent.approve_flag
        note = f"found on PATH at {path}"
        if agent.probe_help:
            help_text = await _run(path, "--help") or ""
            if CODEX_NEW in help_text:
                flag = CODEX_NEW
            elif CODEX_OLD in help_text:
                flag, note = CODEX_OLD, note + "; an older build (--full-auto)"
            else:
                flag, note = None, note + "; its --help names no auto-approve flag"
        probe = Probe(version, flag, note + ("" if version else "; --version did not answer"))
        self._cache = {k: v for k, v in self._cache.items() if k[0] != agent.name}
        self._cache[key] = (now, probe)
        return probe

    # -- resolving for a session -------------------------------------------------------------

    async def launch(self, name: str | None, args: list[str]) -> Launch:
        """The argv for agent ``name`` (None: the shell) with extra ``args``."""
        name = name or "shell"
        custom = self.config.current.agents.custom.get(name)
        if custom is not None:
            return Launch(name, [*custom.argv, *args], custom.cwd, None)
        agent = next((b for b in BUILTINS if b.name == name), None)
        if agent is None:
            raise NotFound(
                f"no agent named {name!r}",
                hint="`loopsy agents` lists them; pass argv to run any command",
            )
        info = await self._builtin_info(agent, refresh=False)
        if not info.detected:
            raise ValidationFailed(
                f"{agent.label} is not installed here ({info.detection})",
                hint=f"install {agent.binary}, or pin a custom command",
            )
        return Launch(name, [*info.argv, *args], None, info.auto_approve_flag)

    # -- pinned commands ---------------------------------------------------------------------

    def pin(self, name: str, command: CustomCommandPut) -> bool:
        """Pin or replace custom command ``name``; True if it is new."""
        if name in BUILTIN_NAMES:
            raise Conflict(f"{name!r} is a built-in agent", hint="choose another name")
        existed = name in self.config.current.agents.custom
        pinned = CustomCommand(label=command.label, argv=command.argv, cwd=command.cwd)

        def change(config: Config) -> Config:
            config.agents.custom = {**config.agents.custom, name: pinned}
            return config

        self.config.update(change)
        return not existed

    def unpin(self, name: str) -> None:
        if name not in self.config.current.agents.custom:
            raise NotFound(f"no pinned command named {name!r}")

        def change(config: Config) -> Config:
            config.agents.custom = {k: v for k, v in config.agents.custom.items() if k != name}
            return config

        self.config.update(change)


def _custom_info(name: str, command: CustomCommand) -> AgentInfo:
    program = command.argv[0]
    path = (
        program
        if os.path.isabs(program) and os.access(program, os.X_OK)
        else (shutil.which(program))
    )
    return AgentInfo(
        name=name,
        label=command.label,
        kind="custom",
        argv=list(command.argv),
        cwd=command.cwd,
        detected=path is not None,
        path=path,
        detection="pinned in config" if path else f"pinned in config; {program} is not found",
    )


async def _run(path: str, flag: str) -> str | None:
    """Run ``path flag`` with a short timeout; its output, or None."""
    with anyio.move_on_after(PROBE_TIMEOUT):
        try:
            result = await anyio.run_process([path, flag], check=False, stdin=subprocess.DEVNULL)
        except OSError:
            return None
        return (result.stdout or result.stderr).decode("utf-8", "replace")
    return None


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line[:100] or None
