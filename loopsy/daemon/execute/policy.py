"""Which programs a request may run: ``execution.denylist`` and ``execution.allowlist``.

Every program a request would start is judged, not just the first word: the checker
follows wrappers (``nice``, ``env``, ``xargs``, ``sudo``, ``busybox``, ... see
``wrappers.py``) and shell command strings (``sh -c``, scripts, stdin; see
``shell_scan.py``) down to each command inside.

Script *files* (``sh build.sh``, ``sh < file``, ``source f``, a ``#!`` script run directly)
are read only for the allowlist: for the denylist they are programs the user wrote, and
reading them would refuse every ``./configure`` that cleans up with ``rm``. Command text
given inline (``-c``, the request's stdin, a here-document) is always checked, and a shell
reading commands from a pipe (``... | sh``) is refused, since its input is unknown.

A program is judged by every name it has: the name as written, the real file's name
after PATH lookup and symlinks (``/usr/bin/../bin/rm``, a symlink ``./x -> /bin/rm``),
and, for the denylist, the file itself (device and inode, so a hard link is caught too).
A denylist entry ``mkfs`` also covers ``mkfs.ext4``.

The denylist is a guard rail against accidents, not a sandbox: a renamed *copy* of a
denied binary, or an interpreter (``python -c``), is not caught. The allowlist is the
real restriction: a program runs only if its real file is one of the listed programs'
files (resolved on the daemon's own PATH, so a request's PATH cannot forge a match), and
a shell command string only if the shell and every command in it are allowed. What the
checker cannot decide (a program name built at run time, an option it does not know,
a script it cannot read) is refused, with the reason.

Blocking file-system calls (stat, realpath, reading scripts): run it in a worker thread.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

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
from loopsy.daemon.execute.programs import (
    Program,
    find_program,
    identities,
    identity,
    read_script,
)
from loopsy.daemon.execute.shell_lexer import ShellSyntaxError
from loopsy.daemon.execute.shell_scan import UNKNOWN_INPUT, FromFile, FromText, Stdin, scan
from loopsy.daemon.execute.wrappers import MULTI_CALL, inner_commands
from loopsy.protocol.errors import Forbidden, NotFound

SHELL = "/bin/sh"
MAX_STEPS = 2000
MAX_DEPTH = 24
DEFAULT_PATH = "/bin:/usr/bin"  # what execvp searches when PATH is unset

# Shell builtins that start no program: allowed inside an allowed shell's command string.
SAFE_BUILTINS = frozenset({
    ":", "true", "false", "echo", "printf", "cd", "pwd", "test", "[", "export", "unset",
    "set", "shift", "exit", "return", "break", "continue", "read", "local", "declare",
    "typeset", "readonly", "wait", "umask", "let", "getopts", "type", "hash", "shopt",
    "pushd", "popd", "dirs", "times", "ulimit",
})  # fmt: skip
# Builtins that run other commands: wrappers.py knows where their command is.
WRAPPER_BUILTINS = frozenset({
    "eval", "exec", "command", "builtin", "trap", "alias", "source", ".", "mapfile",
    "readarray", "time",
})  # fmt: skip
_PATH_SETTERS = frozenset({"export", "declare", "typeset", "readonly", "local"})

DENY_HINT = (
    "execution.denylist in config.yaml is a guard rail against accidents, not a sandbox; "
    "edit it there if this program should run"
)
ALLOW_HINT = "only programs on execution.allowlist in config.yaml may run"
UNCLEAR_HINT = "write the program name literally, without variables, wildcards or pipes into shells"


class Refused(Forbidden):
    """The policy will not run this command (403)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"refused: {message}", hint=hint)


@dataclass
class Context:
    cwd: str
    path_var: str  # the PATH the program is looked up in
    home: str | None
    stdin: Stdin  # what the program reads; None: nothing (/dev/null)
    path_known: bool = True  # False after `PATH=$X`: lookups are a best guess
    cwd_known: bool = True  # False after `cd $X`
    in_shell: bool = False  # builtins and functions exist
    functions: frozenset[str] = frozenset()


class Checker:
    """Judges one request; holds the step budget that bounds the work it may cost."""

    def __init__(
        self, denylist: Sequence[str], allowlist: Sequence[str] | None, search_path: str
    ) -> None:
        self.denylist = tuple(denylist)
        self.allowlist = None if allowlist is None else tuple(allowlist)
        self.steps = 0
        self._denied_files = identities(self.denylist, search_path, multi_call=False)
        self._allowed_files = identities(self.allowlist or (), search_path, multi_call=True)
        self._allowed_names = {os.path.basename(n) for n in self.allowlist or ()}

    # -- argv ---------------------------------------------------------------------------

    def check_argv(
        self, args: Sequence[Arg], ctx: Context, via: tuple[str, ...] = (), *,
        applet_of: Program | None = None,
    ) -> None:  # fmt: skip
        self._spend(via)
        if not args or args[0] == "":
            return
        head = args[0]
        if isinstance(head, Dynamic):
            raise self._unclear("the program to run is only known at run time", via)
        relative = "/" in head and not os.path.isabs(head)
        if self.allowlist is not None and not ctx.cwd_known and relative:
            raise self._unclear(f"`{head}` is relative to a directory known at run time", via)
        invoked = os.path.basename(head.rstrip("/")) or head
        builtin = False
        if applet_of is not None:
            program = Program(invoked, applet_of.path, applet_of.real)
        elif ctx.in_shell and "/" not in head and invoked in SAFE_BUILTINS | WRAPPER_BUILTINS:
            program, builtin = Program(invoked, None, None), True
        else:
            path = find_program(head, cwd=ctx.cwd, path_var=ctx.path_var)
            program = Program(invoked, path, os.path.realpath(path) if path else None)
        self._judge(program, ctx, via, builtin=builtin)
        kinds = [invoked]
        if program.real_name not in (None, invoked, *MULTI_CALL):
            kinds.append(str(program.real_name))
        for kind in kinds:
            for item in inner_commands(kind, args[1:]) or []:
                self._inner(item, program, kind, ctx, (*via, kind))

    def _judge(
        self, program: Program, ctx: Context, via: tuple[str, ...], *, builtin: bool
    ) -> None:
        for name in (program.invoked, program.real_name):
            if name is not None and self._denied_name(name):
                raise Refused(f"`{name}` is on execution.denylist{_through(via)}", hint=DENY_HINT)
        if program.real is not None and program.real_name not in MULTI_CALL:
            entry = self._denied_files.get(identity(program.real) or (-1, -1))
            if entry is not None:
                raise Refused(
                    f"`{program.invoked}` is {program.real}, the same program as `{entry}`, "
                    f"which is on execution.denylist{_through(via)}",
                    hint=DENY_HINT,
                )
        if self.allowlist is None or builtin:
            return
        if not ctx.path_known and "/" not in program.invoked:
            raise self._unclear("PATH is changed at run time, so programs cannot be matched", via)
        if program.real is None:
            if ctx.in_shell and program.invoked in ctx.functions:
                return  # a function of this script (no program file of that name exists)
            raise Refused(
                f"`{program.invoked}` is not on execution.allowlist (no such program)"
                f"{_through(via)}",
                hint=ALLOW_HINT,
            )
        if identity(program.real) not in self._allowed_files:
            raise Refused(
                f"`{program.invoked}` ({program.real}) is not on execution.allowlist"
                f"{_through(via)}",
                hint=ALLOW_HINT,
            )
        if program.real_name in MULTI_CALL and program.invoked not in self._allowed_names:
            raise Refused(
                f"`{program.invoked}` (an applet of {program.real_name}) is not on "
                f"execution.allowlist{_through(via)}",
                hint=ALLOW_HINT,
            )

    def _denied_name(self, name: str) -> bool:
        # `mkfs` covers `mkfs.ext4`, `mkfs.vfat`, ...
        return any(name == d or name.startswith(d + ".") for d in self.denylist)

    def _inner(
        self, item: Inner, program: Program, kind: str, ctx: Context, via: tuple[str, ...]
    ) -> None:
        if isinstance(item, RunArgv):
            self.check_argv(
                item.args, self._inner_context(item, kind, ctx), via,
                applet_of=program if item.applet else None,
            )  # fmt: skip
        elif isinstance(item, RunShell):
            if isinstance(item.text, Dynamic):
                raise self._unclear("its command string is only known at run time", via)
            self._check_text(item.text, item.syntax, kind, ctx, via)
        elif isinstance(item, RunScriptFile):
            if self.allowlist is None:
                return  # script files are not read for the denylist (see the module doc)
            if isinstance(item.path, Dynamic):
                raise self._unclear("its script is only known at run time", via)
            text = read_script(item.path, ctx.cwd)
            if text is None:
                raise self._unclear(f"cannot read the script {item.path!r} to check it", via)
            self._check_text(text, item.syntax, kind, replace(ctx, stdin=UNKNOWN_INPUT), via)
        elif isinstance(item, RunStdinScript):
            self._check_stdin_script(item, kind, ctx, via)
        elif isinstance(item, Uncertain):
            raise self._unclear(f"cannot tell which program `{kind}` runs: {item.reason}", via)
        else:  # AnyOf: an option we do not know; every reading must pass
            if self.allowlist is not None:
                raise self._unclear(f"cannot tell which program `{kind}` runs", via)
            for choice in item.choices:
                self._inner(choice, program, kind, ctx, via)

    def _inner_context(self, item: RunArgv, kind: str, ctx: Context) -> Context:
        inner = replace(ctx, in_shell=ctx.in_shell and kind in WRAPPER_BUILTINS)
        if item.chdir is not None:
            if isinstance(item.chdir, Dynamic):
                inner.cwd_known = False
            else:
                inner.cwd = os.path.join(ctx.cwd, item.chdir)
        if item.clear_env:
            inner.path_var = DEFAULT_PATH
        for name, value in item.env:
            if name == "PATH":
                if isinstance(value, Dynamic):
                    inner.path_known = False
                else:
                    inner.path_var = value
        if item.no_stdin:
            inner.stdin = None
        return inner

    def _check_stdin_script(
        self, item: RunStdinScript, kind: str, ctx: Context, via: tuple[str, ...]
    ) -> None:
        source = ctx.stdin
        if source is None:
            return  # /dev/null: the shell reads nothing and exits
        text = source.text if isinstance(source, FromText) else None
        if isinstance(source, FromFile):
            if self.allowlist is None:
                return  # `sh < file` is a script file: not read for the denylist
            text = None if source.path is None else read_script(source.path, ctx.cwd)
        if text is None:
            raise self._unclear(
                f"`{kind}` reads commands from input that is only known at run time", via
            )
        self._check_text(text, item.syntax, kind, replace(ctx, stdin=UNKNOWN_INPUT), via)

    # -- shell command strings ------------------------------------------------------------

    def _check_text(
        self, text: str, syntax: str, kind: str, ctx: Context, via: tuple[str, ...]
    ) -> None:
        if syntax == "posix":
            self.check_shell(text, ctx, via)
            return
        if self.allowlist is not None:
            raise self._unclear(f"cannot check commands written for {kind}", via)
        for token in re.findall(r"[^\s;&|(){}<>'\"`$]+", text):
            name = os.path.basename(token)
            if self._denied_name(name):
                raise Refused(f"`{name}` is on execution.denylist{_through(via)}", hint=DENY_HINT)

    def check_shell(self, text: str, ctx: Context, via: tuple[str, ...] = ()) -> None:
        self._spend(via)
        try:
            script = scan(text, home=ctx.home)
        except ShellSyntaxError as exc:
            raise self._unclear(f"cannot read the shell command: {exc}", via) from None
        state = replace(ctx, in_shell=True, functions=ctx.functions | script.functions)
        for nested in script.nested:
            self.check_shell(nested, replace(state), via)
        for command in script.commands:
            words: list[Arg] = [DYNAMIC if w.text is None else w.text for w in command.words]
            own = replace(state, stdin=state.stdin if command.stdin is None else command.stdin)
            for name, value in command.assignments:
                if name == "PATH":
                    own.path_known = own.path_known and value is not None
                    own.path_var = own.path_var if value is None else value
            if not words:  # NAME=value alone sets the shell's own variable
                state.path_var, state.path_known = own.path_var, own.path_known
                continue
            self.check_argv(words, own, via)
            self._follow(words, command.stdin, state)

    def _follow(self, words: list[Arg], stdin: Stdin, state: Context) -> None:
        """Track `cd DIR`, `export PATH=...` and `exec <input` for the commands after them
        (straight-line reading: one inside a branch counts as taken)."""
        head = words[0]
        if head == "exec" and len(words) == 1 and stdin is not None:
            state.stdin = stdin  # the shell's own stdin is now that input
        elif head in ("cd", "pushd"):
            target = words[1] if len(words) > 1 else state.home
            if isinstance(target, str) and target != "-":
                state.cwd = os.path.join(state.cwd, target)
            else:
                state.cwd_known = False
        elif head in _PATH_SETTERS:
            for word in words[1:]:
                if isinstance(word, Dynamic):
                    state.path_known = False
                elif word.startswith("PATH="):
                    state.path_var = word[5:]

    # -- limits and refusals ----------------------------------------------------------------

    def _spend(self, via: tuple[str, ...]) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS or len(via) > MAX_DEPTH:
            raise self._unclear("the command is too deeply nested or too long to check", via)

    def _unclear(self, reason: str, via: tuple[str, ...]) -> Refused:
        return Refused(f"{reason}{_through(via)}", hint=UNCLEAR_HINT)


def _through(via: tuple[str, ...]) -> str:
    return f" (run through {' → '.join(via)})" if via else ""


def approve(
    *,
    argv: Sequence[str] | None,
    shell: str | None,
    cwd: str,
    env: Mapping[str, str],
    stdin: str | None,
    denylist: Sequence[str],
    allowlist: Sequence[str] | None,
) -> list[str]:
    """Check a request; return the argv to execute, its program resolved to a path.

    Raises :class:`NotFound` for a program that does not exist, :class:`Refused` when the
    policy forbids something the command would run.
    """
    command = list(argv) if argv is not None else [SHELL, "-c", shell or ""]
    path_var = env.get("PATH", os.defpath)
    program = find_program(command[0], cwd=cwd, path_var=path_var)
    if program is None:
        where = "" if "/" in command[0] else " on PATH"
        raise NotFound(
            f"no executable program {command[0]!r}{where}",
            hint="check the name, or pass a full path; the daemon's PATH applies unless env "
            "sets one",
        )
    checker = Checker(denylist, allowlist, os.environ.get("PATH", os.defpath))
    context = Context(
        cwd=cwd,
        path_var=path_var,
        home=env.get("HOME"),
        stdin=FromText(stdin) if stdin is not None else None,
    )
    checker.check_argv(command, context)
    return [program, *command[1:]]
