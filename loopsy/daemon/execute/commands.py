"""What a command runs, as the policy sees it: argument words (some known only at run
time) and the commands a wrapper or shell runs in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


class Dynamic:
    """A word whose value is only known at run time (``$X``, ``$(...)``, ``*``)."""

    _instance: Dynamic | None = None

    def __new__(cls) -> Dynamic:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DYNAMIC"


DYNAMIC: Final = Dynamic()
Arg = str | Dynamic


@dataclass(frozen=True)
class RunArgv:
    args: tuple[Arg, ...]
    chdir: Arg | None = None  # env -C: relative program paths resolve from here
    env: tuple[tuple[str, Arg], ...] = ()  # env NAME=VALUE (PATH changes which program runs)
    clear_env: bool = False  # env -i
    applet: bool = False  # busybox APPLET: args[0] names an applet of the same binary
    no_stdin: bool = False  # xargs: the child's stdin is /dev/null


@dataclass(frozen=True)
class RunShell:
    text: Arg
    syntax: str = "posix"  # "opaque": fish, csh, ...: a syntax this module cannot read


@dataclass(frozen=True)
class RunScriptFile:
    path: Arg
    syntax: str = "posix"


@dataclass(frozen=True)
class RunStdinScript:
    """The program reads commands from its standard input."""

    syntax: str = "posix"


@dataclass(frozen=True)
class Uncertain:
    reason: str


@dataclass(frozen=True)
class AnyOf:
    """Any of these may be the command (an option this table does not know)."""

    choices: tuple[RunArgv, ...]


Inner = RunArgv | RunShell | RunScriptFile | RunStdinScript | Uncertain | AnyOf
