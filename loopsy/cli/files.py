"""``loopsy files ls|push|pull``: files on the daemon's machine, confined to
``transfer.allowedPaths`` minus ``deniedPaths``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from loopsy.cli.connect import add_peer_argument

CONFINED = (
    "Paths are confined to transfer.allowedPaths minus transfer.deniedPaths in config.yaml "
    "(by real path: symlinks and '..' cannot escape). A relative remote path is taken "
    "from the current directory (with --peer, give absolute paths on that machine)."
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "files",
        help="list, push and pull files through the daemon",
        description="List directories and copy files through the daemon, streamed and "
        "checked with SHA-256. " + CONFINED,
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "ls", help="list a directory", description="List a directory. " + CONFINED
    )
    p.add_argument("path", help="the directory")
    p.add_argument("--limit", type=int, default=1000, metavar="N", help="at most N entries")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_ls)

    p = commands.add_parser(
        "push",
        help="copy a local file to the daemon",
        description="Copy LOCAL to REMOTE atomically (the old file stays intact if the "
        "transfer fails). REMOTE ending in '/' means 'into this directory'. " + CONFINED,
    )
    p.add_argument("local", type=Path, help="the file to send")
    p.add_argument("remote", help="where to store it")
    p.add_argument("--overwrite", "-f", action="store_true", help="replace an existing file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_push)

    p = commands.add_parser(
        "pull",
        help="copy a file from the daemon",
        description="Copy REMOTE to LOCAL atomically, keeping it only if its SHA-256 "
        "matches. LOCAL may be a directory. " + CONFINED,
    )
    p.add_argument("remote", help="the file to fetch")
    p.add_argument("local", type=Path, help="where to write it (a file or a directory)")
    p.add_argument("--overwrite", "-f", action="store_true", help="replace an existing file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_peer_argument(p)
    p.set_defaults(handler=cmd_pull)


def remote_path(text: str, peer: str | None = None) -> str:
    """The local daemon is on this machine, so a relative path means relative to here; a
    peer's paths are its own, and go as given (the daemon refuses relative ones)."""
    if peer is not None or text.startswith("/"):
        return text
    if text.startswith("~"):
        return os.path.expanduser(text)
    # abspath would collapse '..' lexically; the daemon resolves it against real paths.
    return os.path.join(os.getcwd(), text)


def cmd_ls(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, note, table

    listing = with_client(
        lambda c: c.files.list(remote_path(args.path, args.peer), limit=args.limit), peer=args.peer
    )
    if args.json:
        emit_json(listing)
        return 0
    table(
        ["mode", "size", "modified", "name"],
        [
            (
                _mode_text(e.type, e.mode),
                e.size if e.type != "dir" else "-",
                time.strftime("%Y-%m-%d %H:%M", time.localtime(e.mtime)),
                e.name + ("/" if e.type == "dir" else "") + (f" -> {e.target}" if e.target else ""),
            )
            for e in listing.entries
        ],
    )
    if listing.truncated:
        note(f"only the first {len(listing.entries)} entries are shown (--limit)")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    remote = remote_path(args.remote, args.peer)
    if remote.endswith("/"):
        remote += args.local.name
    with ProgressLine(f"push {args.local.name}") as progress:
        written = with_client(
            lambda c: c.files.push(
                args.local, remote, overwrite=args.overwrite, progress=progress.update
            ),
            peer=args.peer,
        )
    if args.json:
        emit_json(written)
    else:
        verb = "created" if written.created else "replaced"
        say(f"{verb} {written.path} ({human_size(written.size)}, sha256 {written.sha256[:16]}…)")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from loopsy.cli.connect import with_client
    from loopsy.cli.output import emit_json, say

    remote = remote_path(args.remote, args.peer)
    local: Path = args.local
    if local.is_dir():
        local = local / os.path.basename(os.path.normpath(remote))
    with ProgressLine(f"pull {os.path.basename(remote)}") as progress:
        pulled = with_client(
            lambda c: c.files.pull(
                remote, local, overwrite=args.overwrite, progress=progress.update
            ),
            peer=args.peer,
        )
    if args.json:
        emit_json(pulled)
    else:
        say(f"wrote {pulled.path} ({human_size(pulled.size)}, sha256 {pulled.sha256[:16]}…)")
    return 0


class ProgressLine:
    """A single updating line on stderr, only on a terminal and only once a transfer has
    run for a moment (a quick copy prints nothing)."""

    DELAY = 0.5
    INTERVAL = 0.1

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.enabled = self.stream.isatty()
        self.started = clock()
        self.last = 0.0
        self.shown = False

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        elapsed = now - self.started
        if elapsed < self.DELAY or (now - self.last < self.INTERVAL and done < total):
            return
        self.last = now
        self.shown = True
        percent = f"{100 * done // total:3d}%" if total else "   "
        rate = human_size(int(done / elapsed)) + "/s" if elapsed > 0 else ""
        line = f"{self.label}  {percent}  {human_size(done)} of {human_size(total)}  {rate}"
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _mode_text(kind: str, mode: int) -> str:
    first = {"dir": "d", "symlink": "l", "file": "-"}.get(kind, "?")
    bits = "".join(flag if mode & (1 << (8 - i)) else "-" for i, flag in enumerate("rwxrwxrwx"))
    return first + bits
