"""Auto-start definitions for all three platforms, rendered and planned without touching
the system."""

from __future__ import annotations

import plistlib
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from loopsy.cli.autostart import (
    AutostartError,
    Setting,
    disable_plan,
    enable_plan,
    platform_of,
    render_launchd_plist,
    render_systemd_unit,
    render_task_xml,
    service_environment,
    systemd_quote,
    windows_action,
)

TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
ARGV = ["/opt/my python/bin/python3", "-m", "loopsy", "start", "--foreground"]


def setting(platform: str, tmp_path: Path, *, home: str = "custom") -> Setting:
    return Setting(
        platform=platform,
        python="/usr/bin/python3",
        loopsy_home=tmp_path / home,
        default_home=tmp_path / ".loopsy",
        user_home=tmp_path,
        environ={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        uid=501,
        user="DESKTOP\\me",
    )


def unit_exec_words(unit: str) -> list[str]:
    [line] = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    # systemd's quoting is C-like; for these words shlex reads it the same way.
    return shlex.split(line.removeprefix("ExecStart=").replace("$$", "$").replace("%%", "%"))


def test_systemd_unit() -> None:
    unit = render_systemd_unit(ARGV, {"LOOPSY_HOME": "/tmp/h 1", "PATH": "/a:/b"})
    assert unit_exec_words(unit) == ARGV
    assert 'Environment="LOOPSY_HOME=/tmp/h 1"' in unit
    assert 'Environment="PATH=/a:/b"' in unit
    assert "KillMode=process" in unit  # sessions' holders survive a restart
    assert "Restart=on-failure" in unit
    assert "WantedBy=default.target" in unit
    assert unit.endswith("\n")


def test_systemd_quoting_of_specifiers_and_variables() -> None:
    assert systemd_quote("50%$HOME\"\\", in_exec=True) == '"50%%$$HOME\\"\\\\"'
    assert systemd_quote("50%$HOME", in_exec=False) == '"50%%$HOME"'
    with pytest.raises(AutostartError, match="newline"):
        systemd_quote("a\nb", in_exec=True)


def test_launchd_plist() -> None:
    text = render_launchd_plist(ARGV, {"LOOPSY_HOME": "/h"}, log_dir=Path("/h/logs"))
    agent = plistlib.loads(text.encode())
    assert agent["Label"] == "dev.loopsy.daemon"
    assert agent["ProgramArguments"] == ARGV
    assert agent["EnvironmentVariables"] == {"LOOPSY_HOME": "/h"}
    assert agent["RunAtLoad"] is True and agent["AbandonProcessGroup"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["StandardErrorPath"] == "/h/logs/launchd.err"
    assert "EnvironmentVariables" not in plistlib.loads(
        render_launchd_plist(ARGV, {}, log_dir=Path("/l")).encode()
    )


def test_task_xml() -> None:
    xml = render_task_xml(["C:\\Py 3\\python.exe", "-m", "loopsy"], {}, user="PC\\a&b")
    root = ET.fromstring(xml.encode("utf-16"))
    assert root.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=TASK_NS) == "PC\\a&b"
    assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == "C:\\Py 3\\python.exe"
    assert root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS) == "-m loopsy"
    assert root.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=TASK_NS) == "PT0S"


def test_task_sets_the_environment_through_cmd() -> None:
    command, arguments = windows_action(["C:\\p.exe", "-m", "loopsy"], {"LOOPSY_HOME": "D:\\h"})
    assert command == "cmd.exe"
    assert arguments == '/d /s /c "set "LOOPSY_HOME=D:\\h" && C:\\p.exe -m loopsy"'
    with pytest.raises(AutostartError):
        windows_action(["p"], {"LOOPSY_HOME": "D:\\100%"})


def test_environment_names_loopsy_home_only_when_not_default(tmp_path: Path) -> None:
    default = tmp_path / ".loopsy"
    assert service_environment(loopsy_home=default, default_home=default, path="/bin") == {
        "PATH": "/bin"
    }
    assert service_environment(loopsy_home=tmp_path / "x", default_home=default, path=None) == {
        "LOOPSY_HOME": str(tmp_path / "x")
    }


def test_each_loopsy_home_gets_a_service_of_its_own(tmp_path: Path) -> None:
    """The default home keeps the plain names; others get a tag of their path, so a second
    daemon's `loopsy enable` does not replace the first one's service."""
    default = setting("linux", tmp_path, home=".loopsy")
    assert (default.unit, default.label, default.task) == (
        "loopsy.service", "dev.loopsy.daemon", "Loopsy",
    )  # fmt: skip
    one, two = setting("linux", tmp_path, home="one"), setting("linux", tmp_path, home="two")
    assert one.unit != two.unit and one.unit.startswith("loopsy-")
    assert one.unit.endswith(".service") and one.label.startswith("dev.loopsy.daemon-")
    assert one.task.startswith("Loopsy-")
    assert one.unit == setting("linux", tmp_path, home="one").unit  # the same home, the same
    assert enable_plan(one).writes[0].path != enable_plan(two).writes[0].path
    assert disable_plan(one).removes == [enable_plan(one).writes[0].path]


def test_linux_plans(tmp_path: Path) -> None:
    s = setting("linux", tmp_path, home=".loopsy")
    assert enable_plan(s).writes[0].path == tmp_path / "xdg" / "systemd" / "user" / "loopsy.service"
    s = setting("linux", tmp_path)
    unit = s.unit
    plan = enable_plan(s)
    [write] = plan.writes
    assert write.path == tmp_path / "xdg" / "systemd" / "user" / unit
    assert f'Environment="LOOPSY_HOME={tmp_path / "custom"}"' in write.content
    assert [step.argv for step in plan.steps] == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", unit],
    ]
    assert plan.preflight == ["systemctl", "--user", "show-environment"]
    assert enable_plan(s, start_now=False).steps[1].argv[-2:] == ["enable", unit]
    off = disable_plan(s)
    assert off.removes == [write.path]
    assert off.steps[0].argv == ["systemctl", "--user", "disable", "--now", unit]
    assert off.last_steps[0].argv == ["systemctl", "--user", "daemon-reload"]
    no_xdg = Setting(**{**s.__dict__, "environ": {"PATH": "/bin"}})
    assert enable_plan(no_xdg).writes[0].path == tmp_path / ".config/systemd/user" / unit


def test_macos_plans(tmp_path: Path) -> None:
    s = setting("macos", tmp_path)
    plan = enable_plan(s)
    [write] = plan.writes
    assert write.path == tmp_path / f"Library/LaunchAgents/{s.label}.plist"
    assert plistlib.loads(write.content.encode())["Label"] == s.label
    assert plistlib.loads(write.content.encode())["ProgramArguments"][0] == "/usr/bin/python3"
    assert plan.steps[0].may_fail and plan.steps[0].argv[:2] == ["launchctl", "bootout"]
    assert plan.steps[1].argv == ["launchctl", "bootstrap", "gui/501", str(write.path)]
    assert disable_plan(setting("macos", tmp_path)).removes == [write.path]


def test_windows_plans(tmp_path: Path) -> None:
    plan = enable_plan(setting("windows", tmp_path))
    [write] = plan.writes
    assert write.encoding == "utf-16" and write.path.name == "loopsy-task.xml"
    assert plan.steps[0].argv[:3] == ["schtasks", "/Create", "/TN"]
    assert plan.steps[0].argv[-3:] == ["/XML", str(write.path), "/F"]
    assert plan.steps[1].argv == ["schtasks", "/Run", "/TN", setting("windows", tmp_path).task]
    assert disable_plan(setting("windows", tmp_path)).steps[-1].argv[:2] == ["schtasks", "/Delete"]


def test_platforms() -> None:
    assert [platform_of(p) for p in ("linux", "darwin", "win32")] == ["linux", "macos", "windows"]
    with pytest.raises(AutostartError, match="not supported on sunos5"):
        platform_of("sunos5")
