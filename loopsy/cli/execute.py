"""``loopsy exec -- CMD ARGS...`` (run a command through the daemon, streaming its output)
and ``loopsy jobs`` (list and cancel running commands)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from loopsy.cli.connect import add_peer_argument

EXIT_TIMED_OUT = 124  # as timeout(1)
MAX_STDIN = 3 << 20


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "exec",
        help="run a command through the daemon, streaming its output",
        description="Run CMD ARGS... through the daemon (no shell unless --shell) and stream "
        "its stdout and stderr here as they come. Exits with the command's exit code; "
        "128+N if signal N ended it; 124 if its timeout passed. Ctrl-C cancels it. The "
        "daemon's execution.denylist (a guard rail, not a sandbox) or execution.allowlist "
        "decides what may run.",
        epilog="examples:\n"
        "  loopsy exec -- git status\n"
        "  loopsy exec --cwd ~/src --timeout 60 -- make test\n"
        "  loopsy exec --shell -- 'ls | wc -l'\n"
        "  git diff | loopsy exec --stdin -- wc -l",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--cwd",
        metavar="DIR",
        help="working directory (default: this one; with --peer, the peer user's home)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="kill the command after S seconds (default and ceiling: execution.defaultTimeout)",
    )
    p.add_argument(
        "--shell",
        action="store_true",
        help="run CMD as a /bin/sh command line (its words joined by spaces)",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="set an environment variable for the command (repeatable)",
    )
    p.add_argument(
        "--stdin",
        action="store_true",
        help="read this program's stdin (UTF-8 text, up to 3 MiB) and give it to the "
        "command (default: the command reads /dev/null)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="wait, then print the result (exit status, output capped at execution.maxOutput) "
        "as JSON",
    )
    add_peer_argument(p)
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS...")
    p.set_defaults(handler=cmd_exec)

    p = subparsers.add_parser(
        "jobs",
        help="list or cancel commands running through the daemon",
        description="With no ACTION, list the running commands (all of them here; a key or "
        "peer sees its own). `loopsy jobs cancel ID` cancels one: its whole process group is "
        "killed.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_jobs, job_id=None)
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    cancel = actions.add_parser(
        "cancel",
        help="cancel a running command",
        description="Kill a running command's process group (SIGTERM, then SIGKILL after a "
        "grace period).",
    )
    cancel.add_argument("job_id", metavar="ID", help="the job id (`loopsy jobs` lists them)")
    cancel.add_argument("--json", action="store_true", help="print the cancelled job as JSON")
    add_peer_argument(cancel)
    cancel.set_defaults(handler=cmd_cancel)


def _command(args: argparse.Namespace) -> Any:
    from loopsy.client.execute import ExecCommand
    from loopsy.protocol.errors import LoopsyError

    words = list(args.command)
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        raise LoopsyError("no command given", hint="loopsy exec -- CMD ARGS...")
    env: dict[str, str] = {}
    for item in args.env:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise LoopsyError(f"--env {item!r} is not NAME=VALUE")
        env[name] = value
    cwd = args.cwd
    if cwd is not None and args.peer is None:
        cwd = os.path.abspath(os.path.expanduser(cwd))
    elif cwd is None and args.peer is None:
        cwd = os.getcwd()
    stdin = None
    if args.stdin:
        data = sys.stdin.buffer.read(MAX_STDIN + 1)
        if len(data) > MAX_STDIN:
            raise LoopsyError(
                f"stdin is over {MAX_STDIN >> 20} MiB", hint="use `loopsy files push`"
            )
        try:
            stdin = data.decode("utf-8")
        except UnicodeDecodeError:
            raise LoopsyError("stdin is not UTF-8 text") from None
    if args.shell:
        return ExecCommand(
            shell=" ".join(words), cwd=cwd, env=env, timeout=args.timeout, stdin=stdin
        )
    return ExecCommand(argv=words, cwd=cwd, env=env, timeout=args.timeout, stdin=stdin)


def cmd_exec(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json

    command = _command(args)
    if args.json:
        result = with_client(lambda client: client.execute.submit(command), peer=args.peer)
        emit_json(result)
        return _exit_code(result, quiet=True)
    out = {1: sys.stdout.buffer, 2: sys.stderr.buffer}

    def write(stream: int, data: bytes) -> None:
        target = out[stream]
        target.write(data)
        target.flush()

    try:
        status = with_client(
            lambda client: client.execute.stream(command, on_output=write), peer=args.peer
        )
    except BrokenPipeError:
        # Our reader went away (`loopsy exec -- yes | head`): the command was cancelled
        # when the stream closed; end as a shell pipeline's writer would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    return _exit_code(status, quiet=False)


def _exit_code(status: Any, *, quiet: bool) -> int:
    from loopsy.cli.output import note

    if status.timed_out:
        if not quiet:
            note(f"loopsy: the command timed out after {status.duration:.1f} s and was killed")
        return EXIT_TIMED_OUT
    if status.cancelled and not quiet:
        note("loopsy: the command was cancelled")
    if status.signal is not None:
        return 128 + int(status.signal)
    return int(status.exit_code or 0)


def cmd_jobs(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import duration, emit_json, say, table

    jobs = with_client(lambda client: client.execute.jobs(), peer=args.peer)
    if args.json:
        emit_json(jobs)
        return 0
    if not jobs:
        say("No commands are running.")
        return 0
    now = time.time()
    table(
        ["id", "pid", "caller", "running", "command"],
        [
            (job.id, job.pid, job.caller, duration(now - job.started_at), _argv_text(job.argv))
            for job in jobs
        ],
    )
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    job = with_client(lambda client: client.execute.cancel(args.job_id), peer=args.peer)
    if args.json:
        emit_json(job)
    else:
        say(f"Cancelled job {job.id} (pid {job.pid}): {_argv_text(job.argv)}")
    return 0


def _argv_text(argv: list[str]) -> str:
    import shlex

    text = shlex.join(argv)
    return text if len(text) <= 60 else text[:57] + "..."
