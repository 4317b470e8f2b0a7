"""``loopsy doctor``: one line per check — ok, warn or fail — with a fix for each problem.

Checks are small functions taking a :class:`Probe` (facts shared between checks, each
found out once) and returning one :class:`CheckResult` or a list. They live in the
modules of ``CHECK_MODULES``, each exposing ``checks`` in display order; a new area adds
its module there. A check that crashes is reported as a failure of that check alone.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from loopsy.config import Config
    from loopsy.home import LoopsyHome
    from loopsy.protocol.status import Status

CHECK_MODULES = ("loopsy.cli.doctor_checks", "loopsy.cli.doctor_mesh")

Outcome = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Outcome
    message: str
    hint: str | None = None


class Probe:
    """What several checks need to know, found out on first use."""

    # Why ``status`` is None although a daemon seems to be there (it did not answer).
    status_error: Exception | None = None

    @cached_property
    def home(self) -> LoopsyHome:
        from loopsy.home import LoopsyHome

        return LoopsyHome.from_env()

    @cached_property
    def config(self) -> Config | Exception:
        """The loaded configuration, or the error that stopped it loading."""
        from loopsy.config import load_config
        from loopsy.protocol.errors import LoopsyError

        try:
            return load_config(self.home)
        except (LoopsyError, OSError) as exc:
            return exc

    @cached_property
    def status(self) -> Status | None:
        """The daemon's status over the unix socket, or None if nothing answers."""
        from loopsy.cli.connect import with_client
        from loopsy.protocol.errors import DaemonNotRunning, LoopsyError

        try:
            status: Status = with_client(lambda client: client.status())
        except DaemonNotRunning:
            return None
        except (LoopsyError, OSError) as exc:
            self.status_error = exc
            return None
        return status


Check = Callable[[Probe], "CheckResult | list[CheckResult]"]


def all_checks() -> list[Check]:
    checks: list[Check] = []
    for name in CHECK_MODULES:
        checks.extend(importlib.import_module(name).checks)
    return checks


def run_checks(probe: Probe, checks: list[Check]) -> list[CheckResult]:
    results: list[CheckResult] = []
    for check in checks:
        try:
            found = check(probe)
        except Exception as exc:  # a broken check must not hide the others
            name = check.__name__.removeprefix("check_")
            found = CheckResult(name, "fail", f"the check itself failed: {exc!r}")
        results.extend(found if isinstance(found, list) else [found])
    return results


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check the installation, with a fix for each problem",
        description="Check config, file permissions, the daemon, its port and the relay. "
        "One line per check (ok, warn, fail) and a hint for each problem. Exits 1 if any "
        "check fails (warnings do not).",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=cmd_doctor)


_LABELS: dict[str, str] = {"ok": " ok ", "warn": "warn", "fail": "FAIL"}


def cmd_doctor(args: argparse.Namespace) -> int:
    from loopsy.cli.output import emit_json, say

    results = run_checks(Probe(), all_checks())
    healthy = all(r.status != "fail" for r in results)
    if args.json:
        emit_json({"ok": healthy, "checks": [asdict(r) for r in results]})
        return 0 if healthy else 1
    width = max((len(r.name) for r in results), default=0)
    for r in results:
        say(f"[{_LABELS[r.status]}] {r.name:<{width}}  {r.message}")
        if r.hint and r.status != "ok":
            say(f"       {'':<{width}}  hint: {r.hint}")
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    if failed:
        say(f"{failed} problem{'s' * (failed != 1)} found.")
    elif warned:
        say(f"No problems; {warned} warning{'s' * (warned != 1)}.")
    else:
        say("Everything looks good.")
    return 0 if healthy else 1
