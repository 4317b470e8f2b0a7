"""``loopsy``: the command line. Each command group lives in its own module with a
``register(subparsers)`` function; ``COMMAND_MODULES`` lists them in ``--help`` order.

Command modules import only the standard library at the top: a command's heavy imports
(httpx, the daemon, Textual) happen inside its handler, so ``loopsy status`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from loopsy import __version__

COMMAND_MODULES = (
    "loopsy.cli.lifecycle",
    "loopsy.cli.key",
    "loopsy.cli.doctor",
    "loopsy.cli.enable",
    "loopsy.cli.sessions",
    "loopsy.cli.agents",
    "loopsy.cli.approvals",
    "loopsy.cli.up",
    "loopsy.cli.execute",
    "loopsy.cli.context",
    "loopsy.cli.files",
    "loopsy.cli.logs",
    "loopsy.cli.pair",
    "loopsy.cli.peers",
    "loopsy.cli.messages",
    "loopsy.cli.mcp",
    "loopsy.cli.relay",
    "loopsy.cli.phones",
    "loopsy.cli.tui",
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; given the ``command`` about to run, only the modules up to the one that
    registers it (building all ~200 subparsers is a third of a short command's run time).
    """
    parser = argparse.ArgumentParser(
        prog="loopsy",
        description="Your terminal, in your pocket: shells and coding agents in real PTYs, "
        "driven from a TUI, your phone and other machines' agents.",
        epilog="Data lives in $LOOPSY_HOME (default ~/.loopsy). "
        "Run `loopsy COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"loopsy {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
        if command is not None and command in subparsers.choices:
            break
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    # The top-level parser has no options taking a value: the first word is the command.
    command = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from loopsy.cli.output import error
    from loopsy.protocol.errors import LoopsyError

    try:
        result = handler(args)
    except LoopsyError as exc:
        error(exc.message, exc.hint)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
