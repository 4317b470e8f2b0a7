"""Wrappers with a grammar of their own: shells (``-c``, script, stdin), ``env`` (assignments,
``-S``, ``-C``), ``xargs`` (appends words it reads), ``find -exec``, ``busybox APPLET``, the
shell builtins that run command strings (``eval``, ``trap``, ``alias``, ``source``), and
``flock``, ``su``, ``sg``, ``watch``, ``script``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence

from loopsy.daemon.execute.commands import (
    DYNAMIC,
    Arg,
    Dynamic,
    Inner,
    RunArgv,
    RunScriptFile,
    RunShell,
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


def shell(args: Sequence[Arg], syntax: str) -> list[Inner]:
    command_mode = stdin_mode = False
    i = 0
    while i < len(args):
        a = args[i]
        if isinstance(a, Dynamic):
            return [Uncertain("the shell's options are only known at run time")]
        if a in ("--", "-"):
            i += 1
            break
        if a.startswith("--"):
            i += 2 if a in ("--rcfile", "--init-file") else 1
            continue
        if len(a) > 1 and a[0] in "-+":
            for ch in a[1:]:
                if ch == "c":
                    command_mode = True
                elif ch == "s":
                    stdin_mode = True
                elif ch in "oO":
                    i += 1  # -o pipefail: the option's name is the next word
            i += 1
            continue
        break
    operands = args[i:]
    if command_mode:
        return [RunShell(operands[0], syntax)] if operands else []
    if stdin_mode or not operands:
        return [RunStdinScript(syntax)]
    return [RunScriptFile(operands[0], syntax)]


_ENV_OPTIONS = Options(
    "iv0",
    "uCS",
    long_flags=flags(
        "ignore-environment null debug help version list-signal-handling default-signal "
        "ignore-signal block-signal"
    ),
    long_args=flags("unset chdir split-string"),
)


def _env(args: Sequence[Arg]) -> list[Inner]:
    words = list(args)
    chdir: Arg | None = None
    clear = False
    i = 0
    while i < len(words):
        a = words[i]
        if a == "-":
            clear, i = True, i + 1
            continue
        try:
            end, seen = parse_options(words[i : i + 1] + words[i + 1 : i + 2], _ENV_OPTIONS)
        except UnknownOption:
            return [suffixes(words, i + 1)]
        except DynamicWord:
            return [Uncertain("env's arguments are only known at run time")]
        if end == 0:
            break
        clear |= "i" in seen or "ignore-environment" in seen
        chdir = seen.get("C", seen.get("chdir", chdir))
        split = seen.get("S", seen.get("split-string"))
        i += end
        if a == "--":
            break
        if split is not None:
            # env -S 'rm -rf x': the string becomes more arguments, options included.
            if isinstance(split, Dynamic) or "${" in split:
                return [Uncertain("env -S text is only known at run time")]
            try:
                words[i:i] = shlex.split(split)
            except ValueError:
                return [Uncertain("env -S text cannot be split")]
    env: list[tuple[str, Arg]] = []
    while i < len(words):
        try:
            if not is_assignment(words[i]):
                break
        except DynamicWord:
            return [Uncertain("env's command is only known at run time")]
        name, _, value = str(words[i]).partition("=")
        env.append((name, value))
        i += 1
    rest = tuple(words[i:])
    return [RunArgv(rest, chdir=chdir, env=tuple(env), clear_env=clear)] if rest else []


_XARGS_OPTIONS = Options(
    "0oprtx",
    "adEILnPs",
    "eil",
    long_flags=flags(
        "null interactive no-run-if-empty open-tty verbose exit show-limits help version eof "
        "replace max-lines"
    ),
    long_args=flags("arg-file delimiter max-args max-procs max-chars process-slot-var"),
)


def _xargs(args: Sequence[Arg]) -> list[Inner]:
    try:
        i, seen = parse_options(args, _XARGS_OPTIONS)
    except UnknownOption as unknown:
        return [suffixes([*args, DYNAMIC], unknown.index + 1)]
    except DynamicWord:
        return [Uncertain("xargs's arguments are only known at run time")]
    replace: Arg | None = seen.get("I")
    if replace is None and ("i" in seen or "replace" in seen):
        replace = seen.get("i") or seen.get("replace") or "{}"
    rest: list[Arg] = list(args[i:]) or ["echo"]
    if isinstance(replace, Dynamic):
        return [Uncertain("xargs's replace string is only known at run time")]
    if replace:
        rest = [DYNAMIC if isinstance(a, str) and replace in a else a for a in rest]
    # The words xargs reads from its input are appended: known only at run time.
    return [RunArgv((*rest, DYNAMIC), no_stdin="o" not in seen and "open-tty" not in seen)]


def _find(args: Sequence[Arg]) -> list[Inner]:
    if any(isinstance(a, Dynamic) for a in args):
        # A word known only at run time may be `-exec` itself.
        return [Uncertain("find's arguments are only known at run time")]
    found: list[Inner] = []
    i = 0
    while i < len(args):
        if args[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(args) and args[end] not in (";", "+"):
                end += 1
            command = tuple(
                DYNAMIC if isinstance(a, str) and "{}" in a else a for a in args[i + 1 : end]
            )
            found.append(RunArgv(command))
            i = end
        i += 1
    return found


def _busybox(args: Sequence[Arg]) -> list[Inner]:
    if not args or (isinstance(args[0], str) and args[0].startswith("--")):
        return []  # --list, --install, --help
    return [RunArgv(tuple(args), applet=True)]


def _joined(args: Sequence[Arg]) -> Arg:
    if any(isinstance(a, Dynamic) for a in args):
        return DYNAMIC
    return " ".join(str(a) for a in args)


def _eval(args: Sequence[Arg]) -> list[Inner]:
    return [RunShell(_joined(args))] if args else []


def _trap(args: Sequence[Arg]) -> list[Inner]:
    words = list(args)
    if words and words[0] == "--":
        words = words[1:]
    if len(words) < 2 or words[0] in ("-", "-l", "-p", "-P"):
        return []
    return [RunShell(words[0])]


def _alias(args: Sequence[Arg]) -> list[Inner]:
    # dash expands aliases in scripts: `alias ls=rm` then `ls -rf x` on a later line.
    found: list[Inner] = []
    for a in args:
        if isinstance(a, Dynamic):
            found.append(RunShell(DYNAMIC))
        elif "=" in a:
            found.append(RunShell(a.partition("=")[2]))
    return found


def _source(args: Sequence[Arg]) -> list[Inner]:
    return [RunScriptFile(args[0])] if args else []


def _mapfile(args: Sequence[Arg]) -> list[Inner]:
    try:
        _, seen = parse_options(args, Options("t", "dnOsuCc"))
    except (UnknownOption, DynamicWord):
        return [Uncertain("mapfile's options are only known at run time")]
    return [RunShell(seen["C"])] if "C" in seen else []


def _flock(args: Sequence[Arg]) -> list[Inner]:
    spec = Options(
        "sexnouFhV",
        "wEc",
        long_flags=flags("shared exclusive unlock nonblock nb close no-fork verbose"),
        long_args=flags("timeout wait conflict-exit-code command"),
    )
    try:
        i, seen = parse_options(args, spec)
    except UnknownOption as unknown:
        return [suffixes(args, unknown.index + 1)]
    except DynamicWord:
        return [Uncertain("flock's arguments are only known at run time")]
    command = seen.get("c", seen.get("command"))
    if command is not None:
        return [RunShell(command)]
    rest = args[i + 1 :]  # after the lock file
    if rest and rest[0] in ("-c", "--command"):
        return [RunShell(rest[1])] if len(rest) > 1 else []
    return [RunArgv(tuple(rest))] if rest else []


def _su(args: Sequence[Arg]) -> list[Inner]:
    # su permutes its options, so -c may come after the user name.
    for i, a in enumerate(args):
        if isinstance(a, Dynamic):
            return [Uncertain("su's arguments are only known at run time")]
        for option in ("-c", "--command", "--session-command"):
            if a == option:
                return [RunShell(args[i + 1])] if i + 1 < len(args) else []
            if a.startswith(option + "=") or (option == "-c" and a.startswith("-c")):
                return [RunShell(a.split("=", 1)[1] if "=" in a else a[2:])]
    operands = [a for a in args if isinstance(a, str) and not a.startswith("-")]
    if len(operands) > 1:
        return [Uncertain("su passes extra arguments to the user's shell")]
    return [RunStdinScript()]


def _sg(args: Sequence[Arg]) -> list[Inner]:
    words = [a for a in args if a != "-"]
    if len(words) < 2:
        return [RunStdinScript()]
    rest = words[1:]
    if rest[0] == "-c":
        rest = rest[1:]
    return [RunShell(_joined(rest))] if rest else []


def _watch(args: Sequence[Arg]) -> list[Inner]:
    spec = Options(
        "bcdegprtwx",
        "nq",
        long_flags=flags(
            "beep color no-color differences chgexit errexit exec precise no-title no-wrap "
            "no-rerun"
        ),
        long_args=flags("interval equexit"),
    )
    try:
        i, seen = parse_options(args, spec)
    except UnknownOption as unknown:
        return [suffixes(args, unknown.index + 1)]
    except DynamicWord:
        return [Uncertain("watch's arguments are only known at run time")]
    rest = args[i:]
    if not rest:
        return []
    if "x" in seen or "exec" in seen:
        return [RunArgv(tuple(rest))]
    return [RunShell(_joined(rest))]


def _script(args: Sequence[Arg]) -> list[Inner]:
    spec = Options(
        "aefqhV",
        "cEIOTBmo",
        long_flags=flags("append return flush force quiet"),
        long_args=flags(
            "command echo log-in log-out log-io log-timing logging-format output-limit"
        ),
    )
    try:
        _, seen = parse_options(args, spec)
    except UnknownOption as unknown:
        return [suffixes(args, unknown.index + 1)]
    except DynamicWord:
        return [Uncertain("script's arguments are only known at run time")]
    command = seen.get("c", seen.get("command"))
    return [RunShell(command)] if command is not None else [RunStdinScript()]


SPECIAL: dict[str, Callable[[Sequence[Arg]], list[Inner]]] = {
    "env": _env,
    "xargs": _xargs,
    "find": _find,
    "busybox": _busybox,
    "toybox": _busybox,
    "eval": _eval,
    "trap": _trap,
    "alias": _alias,
    "source": _source,
    ".": _source,
    "mapfile": _mapfile,
    "readarray": _mapfile,
    "flock": _flock,
    "su": _su,
    "runuser": _su,
    "sg": _sg,
    "watch": _watch,
    "script": _script,
}
