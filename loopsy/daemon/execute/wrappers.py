"""Programs that run other programs, and how to find the command inside their arguments.

``inner_commands("nice", ["-n", "5", "rm", "-rf", "x"])`` answers ``[RunArgv(("rm", ...))]``:
the denylist and allowlist then judge ``rm`` as if it had been asked for directly. Shells
give back a command string (``sh -c``), a script file or "reads its stdin"; the policy
reads those in turn.

Pure: no files, no environment. A word known only at run time is :data:`DYNAMIC`; where
such a word (or an option this table does not know) makes the inner command uncertain,
the answer says so (``Uncertain``) or lists every reading (``AnyOf``), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from loopsy.daemon.execute.commands import (
    Arg,
    Dynamic,
    Inner,
    RunArgv,
    RunStdinScript,
    Uncertain,
)
from loopsy.daemon.execute.getopt import (
    DynamicWord,
    Options,
    UnknownOption,
    flags,
    is_assignment,
    parse_options,
    suffixes,
)
from loopsy.daemon.execute.special_wrappers import SPECIAL, shell


@dataclass(frozen=True)
class Wrapper:
    """A wrapper described by its options: the command follows them (and ``operands``)."""

    options: Options = field(default_factory=Options)
    operands: int = 0  # words between the options and the command (timeout's DURATION)
    no_command: frozenset[str] = frozenset()  # options after which nothing runs (taskset -p)
    assignments: bool = False  # NAME=VALUE words may precede the command (sudo)
    bare: Inner | None = None  # what runs when no command is given (chroot: a shell)
    shell_flags: frozenset[str] = frozenset()  # with no command, these start a shell (sudo -s)

    def inner(self, args: Sequence[Arg]) -> list[Inner]:
        try:
            i, seen = parse_options(args, self.options)
        except UnknownOption as unknown:
            return [suffixes(args, unknown.index + 1)]
        except DynamicWord:
            return [Uncertain("an option is only known at run time")]
        if any(option in seen for option in self.no_command):
            return []
        if any(isinstance(a, Dynamic) for a in args[i : i + self.operands + 1]):
            return [Uncertain("the command is only known at run time")]
        i += self.operands
        if self.assignments:
            while i < len(args) and is_assignment(args[i]):
                i += 1
        rest = tuple(args[i:])
        if not rest:
            if any(flag in seen for flag in self.shell_flags):
                return [RunStdinScript()]
            return [self.bare] if self.bare is not None else []
        return [RunArgv(rest)]


_ANY_SHELL = RunStdinScript()
_TABLE: dict[str, Wrapper] = {
    "nice": Wrapper(Options("", "n", long_args=flags("adjustment"), numeric=True)),
    "timeout": Wrapper(
        Options(
            "v",
            "sk",
            long_flags=flags("preserve-status foreground verbose"),
            long_args=flags("signal kill-after"),
        ),
        operands=1,
    ),
    "nohup": Wrapper(),
    "setsid": Wrapper(Options("cfw", long_flags=flags("ctty fork wait"))),
    "stdbuf": Wrapper(Options("", "ioe", long_args=flags("input output error"))),
    "ionice": Wrapper(
        Options(
            "t",
            "cnpPu",
            long_flags=flags("ignore"),
            long_args=flags("class classdata pid pgid uid"),
        ),
        no_command=flags("p P u pid pgid uid"),
    ),
    "chrt": Wrapper(
        Options(
            "abdfiomprRv",
            "TPD",
            long_flags=flags(
                "all-tasks batch deadline fifo idle other rr reset-on-fork max pid verbose"
            ),
            long_args=flags("sched-runtime sched-period sched-deadline"),
        ),
        operands=1,
        no_command=flags("p m pid max"),
    ),
    "taskset": Wrapper(
        Options("acpV", long_flags=flags("all-tasks cpu-list pid")),
        operands=1,
        no_command=flags("p pid"),
    ),
    "time": Wrapper(
        Options(
            "apqvV",
            "fo",
            long_flags=flags("append portability quiet verbose"),
            long_args=flags("format output"),
        ),
    ),
    "command": Wrapper(Options("pvV"), no_command=flags("v V")),
    "builtin": Wrapper(),
    "exec": Wrapper(Options("cl", "a")),
    "sudo": Wrapper(
        Options(
            "AbBEeHiKklnNPSsVv",
            "CDghpRrtTUu",
            long_flags=flags(
                "askpass background bell preserve-env edit set-home login remove-timestamp "
                "reset-timestamp list non-interactive preserve-groups stdin shell version "
                "validate help"
            ),
            long_args=flags(
                "close-from chdir group host prompt chroot role type command-timeout "
                "other-user user"
            ),
        ),
        no_command=flags("e edit K V"),
        assignments=True,
        shell_flags=flags("s i shell login"),
    ),
    "doas": Wrapper(Options("nsL", "uC"), no_command=flags("C L"), shell_flags=flags("s")),
    "chroot": Wrapper(
        Options(long_flags=flags("skip-chdir"), long_args=flags("userspec groups")),
        operands=1,
        bare=_ANY_SHELL,
    ),
    "unshare": Wrapper(
        Options(
            "muinpUCTfrcl",
            "SGRw",
            long_flags=flags(
                "mount uts ipc net pid user cgroup time fork map-root-user map-current-user "
                "kill-child mount-proc keep-caps"
            ),
            long_args=flags(
                "propagation setgroups map-user map-group map-users map-groups root wd "
                "setuid setgid monotonic boottime"
            ),
        ),
        bare=_ANY_SHELL,
    ),
    "nsenter": Wrapper(
        Options(
            "aeFZ",
            "tSGrw",
            "muinpUCT",
            long_flags=flags("all env no-fork follow-context preserve-credentials"),
            long_args=flags("target setuid setgid root wd"),
        ),
        bare=_ANY_SHELL,
    ),
    "setpriv": Wrapper(
        Options(
            "d",
            long_flags=flags(
                "dump nnp no-new-privs init-groups keep-groups clear-groups reset-env"
            ),
            long_args=flags(
                "reuid regid ruid rgid euid egid groups inh-caps ambient-caps bounding-set "
                "securebits pdeathsig selinux-label apparmor-profile landlock-access "
                "landlock-rule"
            ),
        ),
    ),
    "strace": Wrapper(Options("AcCdDfFhikNnqrtTvVwxyzZ", "abeEIoOpPsSuUX"), no_command=flags("p")),
    "ltrace": Wrapper(Options("bcCfhirStTV", "aADeFlnopsuwx"), no_command=flags("p")),
}
# Wrappers whose options are too many to model: any later word may be the command.
_OPAQUE_WRAPPERS = frozenset({
    "systemd-run", "bwrap", "firejail", "proot", "fakeroot", "pkexec", "valgrind", "perf",
    "xvfb-run", "dbus-launch", "unbuffer", "torsocks", "proxychains", "proxychains4",
    "catchsegv", "chpst", "setuidgid", "envdir", "faketime", "parallel", "gdb", "prlimit",
    "eatmydata", "cgexec", "numactl", "schedtool", "trickle", "caffeinate",
})  # fmt: skip

POSIX_SHELLS = frozenset({
    "sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "oksh", "lksh", "ash",
    "rbash", "posh", "yash", "hush",
})  # fmt: skip
OPAQUE_SHELLS = frozenset(
    {"fish", "csh", "tcsh", "pwsh", "powershell", "nu", "elvish", "xonsh", "rc", "es"}
)
MULTI_CALL = frozenset({"busybox", "toybox"})

def inner_commands(name: str, args: Sequence[Arg]) -> list[Inner] | None:
    """What ``name ARGS...`` runs, or None when ``name`` is not a program that runs others."""
    if name in POSIX_SHELLS:
        return shell(args, "posix")
    if name in OPAQUE_SHELLS:
        return shell(args, "opaque")
    special = SPECIAL.get(name)
    if special is not None:
        return special(args)
    wrapper = _TABLE.get(name)
    if wrapper is not None:
        return wrapper.inner(args)
    if name in _OPAQUE_WRAPPERS:
        return [suffixes(args, 0)] if args else []
    return None


def is_wrapper(name: str) -> bool:
    return (
        name in POSIX_SHELLS
        or name in OPAQUE_SHELLS
        or name in SPECIAL
        or name in _TABLE
        or name in _OPAQUE_WRAPPERS
    )

