"""Start the daemon at login: a systemd user unit (Linux), a launchd agent (macOS), a Task
Scheduler task (Windows).

The renderers and plans here are pure functions (no files, no processes), so all three
platforms are tested anywhere; ``loopsy enable`` / ``loopsy disable`` (``cli/enable.py``)
carry a plan out. The service runs ``<python> -m loopsy start --foreground`` with the
current PATH (so sessions find your tools) and LOOPSY_HOME when it is not the default.
Stopping the service signals the daemon alone, never its process group: sessions live in
their own holder processes and must outlive a daemon restart.
"""

from __future__ import annotations

import hashlib
import plistlib
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

SYSTEMD_UNIT = "loopsy.service"
LAUNCHD_LABEL = "dev.loopsy.daemon"
TASK_NAME = "Loopsy"


def instance_suffix(loopsy_home: Path, default_home: Path) -> str:
    """"" for the default LOOPSY_HOME, else a short tag of the home's path: daemons of
    different homes run side by side, so each gets a service of its own."""
    if loopsy_home == default_home:
        return ""
    return "-" + hashlib.sha256(str(loopsy_home).encode()).hexdigest()[:8]


class AutostartError(ValueError):
    """A value that cannot be written safely into the service definition."""


@dataclass(frozen=True)
class FileWrite:
    path: Path
    content: str
    encoding: str = "utf-8"
    mode: int = 0o644


@dataclass(frozen=True)
class Step:
    argv: list[str]
    may_fail: bool = False  # e.g. unloading an agent that was never loaded


@dataclass(frozen=True)
class Plan:
    platform: str
    writes: list[FileWrite] = field(default_factory=list)
    removes: list[Path] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)  # after the writes, before removals
    last_steps: list[Step] = field(default_factory=list)  # after the removals
    preflight: list[str] | None = None  # a command that must succeed before anything

    def describe(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "writes": [{"path": str(w.path), "content": w.content} for w in self.writes],
            "removes": [str(p) for p in self.removes],
            "commands": [subprocess.list2cmdline(s.argv) for s in self.steps + self.last_steps],
        }


def platform_of(sys_platform: str) -> str:
    if sys_platform.startswith("linux"):
        return "linux"
    if sys_platform == "darwin":
        return "macos"
    if sys_platform in ("win32", "cygwin"):
        return "windows"
    raise AutostartError(f"auto-start is not supported on {sys_platform}")


def daemon_command(python: str) -> list[str]:
    return [python, "-m", "loopsy", "start", "--foreground"]


def service_environment(
    *, loopsy_home: Path, default_home: Path, path: str | None
) -> dict[str, str]:
    env: dict[str, str] = {}
    if path:
        env["PATH"] = path
    if loopsy_home != default_home:
        env["LOOPSY_HOME"] = str(loopsy_home)
    return env


# -- systemd ----------------------------------------------------------------------------


def systemd_quote(word: str, *, in_exec: bool) -> str:
    """One word for a unit file: double-quoted with C escapes; ``%`` is a specifier and
    ``$`` (in ExecStart) a variable, so both are doubled."""
    if "\n" in word or "\r" in word:
        raise AutostartError(f"cannot put a newline in a systemd unit: {word!r}")
    text = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if in_exec:
        text = text.replace("$", "$$")
    return f'"{text}"'


def render_systemd_unit(argv: Sequence[str], env: Mapping[str, str]) -> str:
    lines = [
        "[Unit]",
        "Description=Loopsy daemon (your terminal, in your pocket)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(systemd_quote(w, in_exec=True) for w in argv),
    ]
    for name, value in env.items():
        lines.append("Environment=" + systemd_quote(f"{name}={value}", in_exec=False))
    lines += [
        "Restart=on-failure",
        "RestartSec=3",
        "# The daemon alone: sessions' holder processes outlive a daemon restart.",
        "KillMode=process",
        "TimeoutStopSec=20",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def systemd_unit_path(environ: Mapping[str, str], user_home: Path, unit: str) -> Path:
    config = environ.get("XDG_CONFIG_HOME") or str(user_home / ".config")
    return Path(config) / "systemd" / "user" / unit


# -- launchd ----------------------------------------------------------------------------


def render_launchd_plist(
    argv: Sequence[str], env: Mapping[str, str], *, log_dir: Path, label: str = LAUNCHD_LABEL
) -> str:
    agent: dict[str, object] = {
        "Label": label,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "AbandonProcessGroup": True,  # sessions' holders outlive the daemon
        "StandardOutPath": str(log_dir / "launchd.out"),
        "StandardErrorPath": str(log_dir / "launchd.err"),
    }
    if env:
        agent["EnvironmentVariables"] = dict(env)
    return plistlib.dumps(agent).decode("utf-8")


def launchd_plist_path(user_home: Path, label: str) -> Path:
    return user_home / "Library" / "LaunchAgents" / f"{label}.plist"


# -- Windows Task Scheduler -------------------------------------------------------------


def windows_action(argv: Sequence[str], env: Mapping[str, str]) -> tuple[str, str]:
    """(Command, Arguments) for the task. Tasks carry no environment of their own, so
    variables are set by cmd.exe before it runs the daemon."""
    if not env:
        return argv[0], subprocess.list2cmdline(list(argv[1:]))
    sets = []
    for name, value in env.items():
        if any(c in value for c in '"%\r\n'):
            raise AutostartError(f"cannot pass {name}={value!r} through cmd.exe safely")
        sets.append(f'set "{name}={value}"')
    return "cmd.exe", "/d /s /c \"" + " && ".join([*sets, subprocess.list2cmdline(argv)]) + '"'


def render_task_xml(argv: Sequence[str], env: Mapping[str, str], *, user: str) -> str:
    command, arguments = windows_action(argv, env)
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Loopsy daemon (your terminal, in your pocket)</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{escape(user)}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{escape(user)}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(command)}</Command>
      <Arguments>{escape(arguments)}</Arguments>
    </Exec>
  </Actions>
</Task>
"""


# -- plans ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """Everything a plan depends on, gathered by the caller."""

    platform: str
    python: str
    loopsy_home: Path
    default_home: Path
    user_home: Path
    environ: Mapping[str, str]
    uid: int = 0
    user: str = ""

    @property
    def unit(self) -> str:
        """The systemd user unit's name."""
        return SYSTEMD_UNIT.removesuffix(".service") + self._suffix + ".service"

    @property
    def label(self) -> str:
        """The launchd agent's label."""
        return LAUNCHD_LABEL + self._suffix

    @property
    def task(self) -> str:
        """The Task Scheduler task's name."""
        return TASK_NAME + self._suffix

    @property
    def _suffix(self) -> str:
        return instance_suffix(self.loopsy_home, self.default_home)

    @property
    def env(self) -> dict[str, str]:
        return service_environment(
            loopsy_home=self.loopsy_home,
            default_home=self.default_home,
            path=self.environ.get("PATH"),
        )


def enable_plan(s: Setting, *, start_now: bool = True) -> Plan:
    argv = daemon_command(s.python)
    if s.platform == "linux":
        enable = ["systemctl", "--user", "enable", *(["--now"] if start_now else []), s.unit]
        unit_path = systemd_unit_path(s.environ, s.user_home, s.unit)
        unit = FileWrite(unit_path, render_systemd_unit(argv, s.env))
        return Plan(
            "linux",
            writes=[unit],
            steps=[Step(["systemctl", "--user", "daemon-reload"]), Step(enable)],
            preflight=["systemctl", "--user", "show-environment"],
        )
    if s.platform == "macos":
        plist = launchd_plist_path(s.user_home, s.label)
        log_dir = s.loopsy_home / "logs"
        rendered = render_launchd_plist(argv, s.env, log_dir=log_dir, label=s.label)
        return Plan(
            "macos",
            writes=[FileWrite(plist, rendered)],
            steps=[
                Step(["launchctl", "bootout", f"gui/{s.uid}/{s.label}"], may_fail=True),
                Step(["launchctl", "bootstrap", f"gui/{s.uid}", str(plist)]),
            ],
        )
    xml_path = s.loopsy_home / "autostart" / "loopsy-task.xml"
    steps = [Step(["schtasks", "/Create", "/TN", s.task, "/XML", str(xml_path), "/F"])]
    if start_now:
        steps.append(Step(["schtasks", "/Run", "/TN", s.task]))
    return Plan(
        "windows",
        writes=[FileWrite(xml_path, render_task_xml(argv, s.env, user=s.user), "utf-16")],
        steps=steps,
    )


def disable_plan(s: Setting) -> Plan:
    if s.platform == "linux":
        return Plan(
            "linux",
            removes=[systemd_unit_path(s.environ, s.user_home, s.unit)],
            steps=[Step(["systemctl", "--user", "disable", "--now", s.unit], may_fail=True)],
            last_steps=[Step(["systemctl", "--user", "daemon-reload"])],
            preflight=["systemctl", "--user", "show-environment"],
        )
    if s.platform == "macos":
        return Plan(
            "macos",
            removes=[launchd_plist_path(s.user_home, s.label)],
            steps=[Step(["launchctl", "bootout", f"gui/{s.uid}/{s.label}"], may_fail=True)],
        )
    return Plan(
        "windows",
        removes=[s.loopsy_home / "autostart" / "loopsy-task.xml"],
        steps=[
            Step(["schtasks", "/End", "/TN", s.task], may_fail=True),
            Step(["schtasks", "/Delete", "/TN", s.task, "/F"]),
        ],
    )
