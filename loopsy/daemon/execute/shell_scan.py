"""Find every simple command in a shell string: its words, where its stdin comes from, and
the command strings nested anywhere inside (``$( )``, backticks, here-documents).

Control structure is followed only as far as it changes what a word *is*: ``if``, ``do``,
``{`` and friends are keywords, not programs; ``for NAME in WORDS`` and ``case`` patterns
are data; ``NAME()`` defines a function. Everything else in command position is a
command, whatever branch it sits in: a branch that never runs is still checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from loopsy.daemon.execute.shell_lexer import REDIRECTIONS, Arith, Op, Token, Word, tokenize


@dataclass(frozen=True)
class FromFile:
    path: str | None  # None: the file's name is only known at run time


@dataclass(frozen=True)
class FromText:
    text: str | None  # None: the content is only known at run time (a pipe, `$X`)


# Where a command's standard input comes from; None means "whatever the shell's is".
Stdin = FromFile | FromText | None
UNKNOWN_INPUT = FromText(None)


@dataclass
class SimpleCommand:
    words: list[Word]
    stdin: Stdin = None
    assignments: list[tuple[str, str | None]] = field(default_factory=list)  # NAME=value


@dataclass
class Script:
    commands: list[SimpleCommand] = field(default_factory=list)
    nested: list[str] = field(default_factory=list)  # command strings inside words
    functions: set[str] = field(default_factory=set)


_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=")
_OPENERS = frozenset({"{", "if", "while", "until"})
_CLOSERS = frozenset({"}", "fi", "done"})
_NEUTRAL = frozenset({"!", "then", "else", "elif", "do", "coproc"})


def scan(text: str, *, home: str | None = None) -> Script:
    """Every simple command in ``text``; raises ``ShellSyntaxError`` if it cannot be read."""
    scanner = _Scanner(tokenize(text, home=home))
    scanner.run()
    return scanner.script


class _Scanner:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.script = Script()
        self.words: list[Word] = []
        self.assignments: list[tuple[str, str | None]] = []
        self.stdin: Stdin = None
        self.redirected = False
        self.piped = False
        self.depth = 0  # inside a compound command, stdin may be redirected after its end
        self.mode: str | None = None  # "cond" ([[ ]]), "forlist", "pattern" (case)
        self.cases = 0

    def run(self) -> None:
        while self.i < len(self.tokens):
            token = self.tokens[self.i]
            self.i += 1
            if isinstance(token, Arith):
                self.script.nested.extend(token.subs)
            elif isinstance(token, Op):
                self._op(token)
            else:
                self.script.nested.extend(token.subs)
                self._word(token)
        self._flush()

    # -- operators ----------------------------------------------------------------------

    def _op(self, op: Op) -> None:
        if op.op in REDIRECTIONS:
            self._redirection(op)
            return
        if self.mode == "cond":
            return
        if self.mode == "pattern":
            if op.op == ")":
                self.mode = None  # the commands of this case branch follow
            return
        self._flush()
        if op.op in ("|", "|&"):
            self.piped = True
        elif op.op in (";;", ";&", ";;&"):
            if self.cases:
                self.mode = "pattern"
        elif op.op == "(":
            self.depth += 1
        elif op.op == ")":
            self.depth = max(0, self.depth - 1)
        elif self.mode == "forlist":
            self.mode = None

    def _redirection(self, op: Op) -> None:
        self.script.nested.extend(op.subs)
        target = self._next_word()
        if target is not None:
            self.script.nested.extend(target.subs)
        if self.mode is not None or op.fd not in (None, 0):
            return
        source: Stdin
        if op.op in ("<", "<>"):
            source = FromFile(target.text if target is not None else None)
        elif op.op in ("<<", "<<-"):
            source = FromText(None if op.heredoc_dynamic else op.heredoc)
        elif op.op == "<<<":
            text = target.text if target is not None else None
            source = FromText(None if text is None else text + "\n")
        elif op.op == "<&":
            source = UNKNOWN_INPUT
        else:
            return
        self.stdin = source
        self.redirected = True

    def _next_word(self) -> Word | None:
        if self.i < len(self.tokens) and isinstance(self.tokens[self.i], Word):
            word = self.tokens[self.i]
            self.i += 1
            assert isinstance(word, Word)
            return word
        return None

    def _next_is(self, *ops: str) -> bool:
        ahead = self.tokens[self.i : self.i + len(ops)]
        return len(ahead) == len(ops) and all(
            isinstance(t, Op) and t.op == o for t, o in zip(ahead, ops, strict=True)
        )

    # -- words --------------------------------------------------------------------------

    def _word(self, word: Word) -> None:
        if self.mode == "cond":
            if word.raw == "]]":
                self.mode = None
            return
        if self.mode == "pattern":
            if word.raw == "esac":
                self._end_case()
            return
        if self.mode == "forlist":
            return
        if not self.words and self._structure(word):
            return
        self.words.append(word)

    def _structure(self, word: Word) -> bool:
        """Handle a word in command position that is not a command; True if it was one."""
        match = _ASSIGNMENT.match(word.raw)
        if match:
            value = word.text.partition("=")[2] if word.text is not None else None
            self.assignments.append((match.group(1), value))
            return True
        keyword = word.raw if word.raw == word.text else None  # a quoted "if" is a command
        if keyword in _NEUTRAL:
            return True
        if keyword in _OPENERS:
            self.depth += 1
            return True
        if keyword in _CLOSERS:
            self.depth = max(0, self.depth - 1)
            return True
        if keyword == "esac":
            self._end_case()
            return True
        if keyword == "[[":
            self.mode = "cond"
            return True
        if keyword in ("for", "select"):
            self._skip_name()
            if self._peek_raw() == "in":
                self.i += 1
                self.mode = "forlist"
            self.depth += 1
            return True
        if keyword == "case":
            subject = self._next_word()
            if subject is not None:
                self.script.nested.extend(subject.subs)
            if self._peek_raw() == "in":
                self.i += 1
            self.mode = "pattern"
            self.cases += 1
            self.depth += 1
            return True
        if keyword == "function":
            name = self._next_word()
            if name is not None and name.text is not None:
                self.script.functions.add(name.text)
            if self._next_is("(", ")"):
                self.i += 2
            return True
        if self._next_is("(", ")") and word.text is not None:
            self.script.functions.add(word.text)
            self.i += 2
            return True
        return False

    def _skip_name(self) -> None:
        nxt = self.tokens[self.i] if self.i < len(self.tokens) else None
        if isinstance(nxt, Word | Arith):
            self.script.nested.extend(nxt.subs)
            self.i += 1

    def _peek_raw(self) -> str | None:
        nxt = self.tokens[self.i] if self.i < len(self.tokens) else None
        while isinstance(nxt, Op) and nxt.op == "\n":
            self.i += 1
            nxt = self.tokens[self.i] if self.i < len(self.tokens) else None
        return nxt.raw if isinstance(nxt, Word) else None

    def _end_case(self) -> None:
        if self.cases:
            self.cases -= 1
            self.depth = max(0, self.depth - 1)
        self.mode = None

    def _flush(self) -> None:
        if self.words or self.assignments:
            if self.redirected:
                stdin = self.stdin
            elif self.piped or self.depth > 0:
                # A pipe, or a compound command whose input may be redirected after its end.
                stdin = UNKNOWN_INPUT
            else:
                stdin = None
            self.script.commands.append(SimpleCommand(self.words, stdin, self.assignments))
        self.words = []
        self.assignments = []
        self.stdin = None
        self.redirected = False
        self.piped = False
