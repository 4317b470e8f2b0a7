"""getopt-style option parsing for wrappers (``nice -n 5 CMD``, ``timeout -s KILL 5 CMD``):
where do the options end and the command begin?

Like getopt with a ``+`` (as these tools use it), parsing stops at the first operand.
An option outside the table raises :class:`UnknownOption`, and a word known only at run
time in option position raises :class:`DynamicWord`: the caller then says "uncertain"
instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopsy.daemon.execute.commands import AnyOf, Arg, Dynamic, RunArgv


class UnknownOption(Exception):
    def __init__(self, index: int) -> None:
        self.index = index


class DynamicWord(Exception):
    pass


@dataclass(frozen=True)
class Options:
    short_flags: str = ""
    short_args: str = ""  # take a value, attached (-n5) or the next word (-n 5)
    short_optional: str = ""  # take a value only when attached (-d5)
    long_flags: frozenset[str] = frozenset()
    long_args: frozenset[str] = frozenset()
    numeric: bool = False  # `nice -10`: a dash and digits is an option


def parse_options(args: Sequence[Arg], spec: Options) -> tuple[int, dict[str, Arg]]:
    """Options up to the first operand (these tools stop there, like getopt's ``+``)."""
    seen: dict[str, Arg] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if isinstance(a, Dynamic):
            raise DynamicWord
        if a == "--":
            return i + 1, seen
        if a.startswith("--") and len(a) > 2:
            name, eq, value = a[2:].partition("=")
            if name in spec.long_args:
                if eq:
                    seen[name] = value
                elif i + 1 < len(args):
                    seen[name] = args[i + 1]
                    i += 1
            elif name in spec.long_flags:
                seen[name] = value
            else:
                raise UnknownOption(i)
            i += 1
            continue
        if a.startswith("-") and len(a) > 1:
            if spec.numeric and a[1:].isdigit():
                i += 1
                continue
            i = _short_cluster(args, i, a, spec, seen)
            continue
        return i, seen
    return i, seen


def _short_cluster(
    args: Sequence[Arg], i: int, a: str, spec: Options, seen: dict[str, Arg]
) -> int:
    for j in range(1, len(a)):
        ch = a[j]
        if ch in spec.short_args:
            if j + 1 < len(a):
                seen[ch] = a[j + 1 :]
                return i + 1
            seen[ch] = args[i + 1] if i + 1 < len(args) else ""
            return i + 2
        if ch in spec.short_optional:
            seen[ch] = a[j + 1 :]
            return i + 1
        if ch not in spec.short_flags:
            raise UnknownOption(i)
        seen[ch] = ""
    return i + 1


def suffixes(args: Sequence[Arg], start: int) -> AnyOf:
    """Every word from ``start`` on may begin the command."""
    return AnyOf(tuple(RunArgv(tuple(args[j:])) for j in range(start, len(args))))


def is_assignment(word: Arg) -> bool:
    """``NAME=value`` (raises :class:`DynamicWord` for a word known only at run time)."""
    if isinstance(word, Dynamic):
        raise DynamicWord
    name, eq, _ = word.partition("=")
    return bool(eq) and name.replace("_", "a").isalnum() and not name[:1].isdigit()


def flags(names: str) -> frozenset[str]:
    """``flags("a b c")``: option names written as one string."""
    return frozenset(names.split())
