"""Desktop notifications, where the desktop has them: ``notify-send`` on Linux when a
display is set, an ``osascript`` dialog on macOS (Allow / Deny, answered on the spot).

Best effort: no display, no binary, or a timeout is not an error; the approval still
waits in ``loopsy approvals`` and the TUI.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping

import anyio

log = logging.getLogger("loopsy.daemon")

NOTIFY_TIMEOUT = 10.0


def notify_command(
    title: str, body: str, *, platform: str = sys.platform, environ: Mapping[str, str] | None = None
) -> list[str] | None:
    """The command that shows a notification here, or None when there is no desktop."""
    env = os.environ if environ is None else environ
    if platform == "darwin":
        script = (
            f"display dialog {_applescript(body)} with title {_applescript(title)} "
            'buttons {"Deny", "Allow"} default button "Deny" giving up after 600'
        )
        return ["osascript", "-e", script]
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return None
    path = shutil.which("notify-send", path=env.get("PATH"))
    if path is None:
        return None
    return [path, "--app-name=Loopsy", "--urgency=critical", title, body]


def dialog_answer(output: str) -> bool | None:
    """macOS: True for Allow, False for Deny, None when the dialog gave up."""
    if "gave up:true" in output:
        return None
    if "button returned:Allow" in output:
        return True
    if "button returned:Deny" in output:
        return False
    return None


async def notify(title: str, body: str) -> bool | None:
    """Show the notification; on macOS return the dialog's answer (else None)."""
    command = notify_command(title, body)
    if command is None:
        return None
    timeout = 660.0 if command[0] == "osascript" else NOTIFY_TIMEOUT
    with anyio.move_on_after(timeout):
        try:
            result = await anyio.run_process(command, check=False, stdin=subprocess.DEVNULL)
        except OSError as exc:
            log.info("desktop notification failed: %s", exc)
            return None
        if command[0] == "osascript":
            return dialog_answer(result.stdout.decode("utf-8", "replace"))
    return None


def _applescript(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
