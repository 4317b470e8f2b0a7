"""``loopsy enable`` / ``loopsy disable``: start the daemon at login, or stop doing so.

What is written and run comes from ``cli/autostart.py``; this module gathers the facts,
prints the plan (``--dry-run``) or carries it out, and explains any failure with what
was (or was not) changed.
"""

from __future__ import annotations

import argparse
from typing import Any

COMMAND_TIMEOUT = 60.0


def register(subparsers: Any) -> None:
    for name, handler, text in (
        (
            "enable",
            cmd_enable,
            "Start the daemon at login: a systemd user unit on Linux "
            "($XDG_CONFIG_HOME/systemd/user/loopsy.service, then systemctl --user enable "
            "--now), a launchd agent on macOS, a Task Scheduler task on Windows. A daemon "
            "with another LOOPSY_HOME gets a service of its own (loopsy-<tag>.service).",
        ),
        (
            "disable",
            cmd_disable,
            "Stop starting the daemon at login: disable and remove what `loopsy enable` "
            "installed (the running daemon is stopped by the service manager).",
        ),
    ):
        p = subparsers.add_parser(
            name, help=text.split(":")[0].lower().rstrip("."), description=text
        )
        p.add_argument(
            "--dry-run",
            action="store_true",
            help="print what would be written, where, and which commands would run",
        )
        p.add_argument("--json", action="store_true", help="print the plan as JSON")
        p.set_defaults(handler=handler)


def _setting() -> Any:
    import getpass
    import os
    import sys
    from pathlib import Path

    from loopsy.cli.autostart import AutostartError, Setting, platform_of
    from loopsy.home import LoopsyHome
    from loopsy.protocol.errors import LoopsyError

    try:
        platform = platform_of(sys.platform)
    except AutostartError as exc:
        raise LoopsyError(str(exc), hint="run `loopsy start` from your login scripts") from None
    user_home = Path.home()
    return Setting(
        platform=platform,
        python=sys.executable,
        loopsy_home=LoopsyHome.from_env().root,
        default_home=(user_home / ".loopsy").absolute(),
        user_home=user_home,
        environ=dict(os.environ),
        uid=os.getuid() if hasattr(os, "getuid") else 0,
        user=getpass.getuser(),
    )


def cmd_enable(args: argparse.Namespace) -> int:
    from loopsy.cli.autostart import AutostartError, enable_plan
    from loopsy.cli.output import note
    from loopsy.protocol.errors import LoopsyError

    setting = _setting()
    running = _daemon_running()
    try:
        plan = enable_plan(setting, start_now=not running)
    except AutostartError as exc:
        raise LoopsyError(str(exc)) from None
    if args.dry_run:
        return _show(plan, args.json, "enable")
    _carry_out(plan)
    if args.json:
        return _show(plan, True, "enable", done=True)
    where = plan.writes[0].path
    note(f"Installed {where}.")
    if running:
        note("The daemon already runs, so it was left as it is; it starts at your next login.")
    else:
        note("The daemon now starts at login (and was started now).")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from loopsy.cli.autostart import disable_plan
    from loopsy.cli.output import note, say

    plan = disable_plan(_setting())
    if args.dry_run:
        return _show(plan, args.json, "disable")
    if not any(path.exists() for path in plan.removes):
        if args.json:
            return _show(plan, True, "disable", done=False)
        say("Auto-start is not enabled (nothing to remove).")
        return 0
    _carry_out(plan)
    if args.json:
        return _show(plan, True, "disable", done=True)
    removed = ", ".join(str(p) for p in plan.removes)
    note(f"Removed {removed}; the daemon no longer starts at login.")
    return 0


def _daemon_running() -> bool:
    from loopsy.cli.connect import with_client
    from loopsy.protocol.errors import LoopsyError

    try:
        with_client(lambda client: client.health())
    except (LoopsyError, OSError):
        return False
    return True


def _show(plan: Any, as_json: bool, action: str, *, done: bool | None = None) -> int:
    from loopsy.cli.output import emit_json, say

    described = plan.describe()
    if as_json:
        emit_json({"action": action, "dry_run": done is None, "done": bool(done), **described})
        return 0
    for write in described["writes"]:
        say(f"Would write {write['path']}:")
        for line in write["content"].splitlines():
            say(f"    {line}")
    for path in described["removes"]:
        say(f"Would remove {path}")
    if described["commands"]:
        say("Would run:")
        for command in described["commands"]:
            say(f"    {command}")
    return 0


def _carry_out(plan: Any) -> None:
    """Preflight, write, run, remove. Nothing is written when the preflight fails; a
    failing step says what was already written."""
    from loopsy.home import write_atomic
    from loopsy.protocol.errors import LoopsyError

    if plan.preflight is not None:
        ok, output = _run(plan.preflight)
        if not ok:
            raise LoopsyError(
                f"systemd user services are not available here ({output}); nothing was "
                "written",
                hint="log in to a desktop or SSH session with a user systemd (or run "
                "`loginctl enable-linger $USER` as an admin); otherwise start the daemon "
                "with `loopsy start` from your shell profile",
            )
    written = []
    for write in plan.writes:
        write.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(write.path, write.content.encode(write.encoding), mode=write.mode)
        written.append(str(write.path))
    for step in [*plan.steps, None, *plan.last_steps]:
        if step is None:
            for path in plan.removes:
                path.unlink(missing_ok=True)
            continue
        ok, output = _run(step.argv)
        if not ok and not step.may_fail:
            done = f"; {', '.join(written)} was written" if written else ""
            raise LoopsyError(
                f"`{' '.join(step.argv)}` failed: {output}{done}",
                hint="fix the cause and run the command again; `loopsy disable` undoes it",
            )


def _run(argv: list[str]) -> tuple[bool, str]:
    import subprocess

    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except FileNotFoundError:
        return False, f"{argv[0]} is not installed"
    except subprocess.TimeoutExpired:
        return False, f"{argv[0]} did not answer within {COMMAND_TIMEOUT:.0f} s"
    text = (result.stderr or result.stdout).strip().splitlines()
    return result.returncode == 0, text[0] if text else f"exit code {result.returncode}"
