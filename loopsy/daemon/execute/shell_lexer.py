"""Split a POSIX/bash shell string into words and operators, well enough to find every
command it runs.

``shlex`` is not enough for that: it knows nothing of ``$( )``, backticks, ``${ }``,
here-documents or ANSI-C quoting, each of which can hide a command. This lexer knows them,
and it is honest about what it cannot know: a word whose value depends on run time
(``$X``, ``$(...)``, a wildcard, brace expansion) has ``text=None``, and every command
string nested inside a word is reported in ``subs`` so the caller checks it too.

It is not a shell: it never expands anything, and it refuses (``ShellSyntaxError``) what
it cannot read with confidence, such as an unterminated quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from loopsy.daemon.execute.ansi_c import decode_escape

MAX_NESTING = 48

# Longest first, so ``;;&`` wins over ``;;`` over ``;``.
OPERATORS = (
    ";;&", "&>>", "<<<", "<<-",
    ";;", ";&", "&&", "||", "|&", "&>", "<<", "<&", ">&", ">>", "<>", ">|",
    "(", ")", ";", "&", "|", "<", ">",
)  # fmt: skip
REDIRECTIONS = frozenset({"&>>", "<<<", "<<-", "&>", "<<", "<&", ">&", ">>", "<>", ">|", "<", ">"})
_METACHARS = " \t\n;&|()<>"
_SPECIAL_PARAMS = "@*#?-$!0123456789"
_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACE_EXPANSION = re.compile(r"\{[^{}]*(,|\.\.)[^{}]*\}")
_GLOB = re.compile(r"[*?]|\[.+\]")  # a lone `[` (the test command, `[[`) is literal
_QUOTED = "\x00"  # stands for a quoted character in a word's bare (unquoted) skeleton
# After these, the next word is in command position (used only to track `case` nesting).
_LEADING_WORDS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "{", "!", "time"})


class ShellSyntaxError(ValueError):
    """The string is not something this lexer can read with confidence."""


@dataclass
class Word:
    text: str | None  # after quote removal; None when the value is only known at run time
    raw: str
    subs: list[str] = field(default_factory=list)  # command strings nested inside the word
    start: int = 0


@dataclass
class Op:
    op: str
    fd: int | None = None  # `2>`: the file descriptor a redirection applies to
    heredoc: str | None = None  # the body of `<<` / `<<-`
    heredoc_dynamic: bool = False  # an unquoted delimiter with expansions in the body
    subs: list[str] = field(default_factory=list)  # commands inside an expanding body
    start: int = 0


@dataclass
class Arith:
    """An arithmetic command ``(( ... ))``: no command of its own, but it may nest some."""

    subs: list[str] = field(default_factory=list)
    start: int = 0


Token = Word | Op | Arith


def tokenize(text: str, *, home: str | None = None) -> list[Token]:
    """The tokens of a whole shell string."""
    lexer = _Lexer(text, home=home, depth=0)
    tokens, _ = lexer.run(0, nested=False)
    if lexer.pending:
        lexer.read_heredocs()  # bodies cut short by the end of the string
    return tokens


class _Lexer:
    def __init__(self, text: str, *, home: str | None, depth: int) -> None:
        if depth > MAX_NESTING:
            raise ShellSyntaxError(f"commands nested more than {MAX_NESTING} deep")
        self.s = text
        self.i = 0
        self.home = home
        self.depth = depth
        self.tokens: list[Token] = []
        self.pending: list[tuple[Op, str, bool, bool]] = []  # op, delimiter, strip tabs, quoted
        self.expect_delimiter: Op | None = None

    # -- the token loop -----------------------------------------------------------------

    def run(self, start: int, *, nested: bool) -> tuple[list[Token], int]:
        """Lex from ``start``; when ``nested`` (inside ``$(``), stop at the unmatched ``)``."""
        s, n = self.s, len(self.s)
        self.i = start
        parens = 0
        cases = 0
        while True:
            self._skip_blanks()
            if self.i >= n:
                if nested:
                    raise ShellSyntaxError("unterminated $( ... )")
                return self.tokens, n
            c = s[self.i]
            if c == "#":
                while self.i < n and s[self.i] != "\n":
                    self.i += 1
                continue
            if c == "\n":
                self.tokens.append(Op("\n", start=self.i))
                self.i += 1
                self.read_heredocs()
                continue
            if s.startswith("((", self.i) and self._at_command_start():
                self.tokens.append(self._arith_command())
                continue
            if c in "<>" and s.startswith("(", self.i + 1):
                self.tokens.append(self._process_substitution())
                continue
            op = next((o for o in OPERATORS if s.startswith(o, self.i)), None)
            if op is not None:
                if op == ")" and nested and parens == 0 and cases == 0:
                    return self.tokens, self.i
                if op == "(":
                    parens += 1
                elif op == ")" and parens:
                    parens -= 1
                self.tokens.append(Op(op, start=self.i))
                self.i += len(op)
                if op in ("<<", "<<-"):
                    self.expect_delimiter = self.tokens[-1]  # type: ignore[assignment]
                continue
            at_start = self._at_command_start()
            word = self._word()
            if word.text == "case" and at_start:
                cases += 1
            elif word.text == "esac" and cases:
                cases -= 1
            self._place_word(word)

    def _place_word(self, word: Word) -> None:
        s = self.s
        # `2>file`: a word of digits glued to a redirection is its file descriptor.
        if word.text is not None and word.text.isdigit() and word.raw == word.text:
            op = next((o for o in OPERATORS if s.startswith(o, self.i)), None)
            if op in REDIRECTIONS:
                self.tokens.append(Op(op, fd=int(word.text), start=word.start))
                self.i += len(op)
                if op in ("<<", "<<-"):
                    self.expect_delimiter = self.tokens[-1]  # type: ignore[assignment]
                return
        if self.expect_delimiter is not None:
            heredoc = self.expect_delimiter
            self.expect_delimiter = None
            quoted = any(q in word.raw for q in "'\"\\")
            delimiter = word.text if word.text is not None else word.raw
            self.pending.append((heredoc, delimiter, heredoc.op == "<<-", quoted))
        self.tokens.append(word)

    def _at_command_start(self) -> bool:
        if not self.tokens:
            return True
        last = self.tokens[-1]
        if isinstance(last, Op):
            return last.op not in REDIRECTIONS
        return isinstance(last, Word) and last.text in _LEADING_WORDS

    def _skip_blanks(self) -> None:
        s, n = self.s, len(self.s)
        while self.i < n:
            if s[self.i] in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            else:
                return

    # -- here-documents -----------------------------------------------------------------

    def read_heredocs(self) -> None:
        s, n = self.s, len(self.s)
        for op, delimiter, strip_tabs, quoted in self.pending:
            lines: list[str] = []
            while self.i < n:
                end = s.find("\n", self.i)
                line = s[self.i : n if end < 0 else end]
                self.i = n if end < 0 else end + 1
                check = line.lstrip("\t") if strip_tabs else line
                if check == delimiter:
                    break
                lines.append(check)
            body = "".join(line + "\n" for line in lines)
            op.heredoc = body
            if not quoted:
                dynamic, subs = _scan_expansions(body, self.home, self.depth)
                op.heredoc_dynamic = dynamic
                op.subs.extend(subs)
        self.pending = []

    # -- words --------------------------------------------------------------------------

    def _word(self) -> Word:
        s, n = self.s, len(self.s)
        start = self.i
        text: list[str] = []
        bare: list[str] = []
        subs: list[str] = []
        dynamic = False
        while self.i < n:
            c = s[self.i]
            if c in _METACHARS:
                break
            if c == "\\":
                if self.i + 1 >= n:
                    self.i += 1
                    continue
                if s[self.i + 1] != "\n":
                    text.append(s[self.i + 1])
                    bare.append(_QUOTED)
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise ShellSyntaxError("unterminated ' quote")
                chunk = s[self.i + 1 : end]
                text.append(chunk)
                bare.append(_QUOTED * len(chunk))
                self.i = end + 1
            elif c == '"':
                chunk, is_dynamic, found = self._double_quoted()
                text.append(chunk)
                bare.append(_QUOTED * len(chunk))
                dynamic |= is_dynamic
                subs.extend(found)
            elif c == "$" and s.startswith("$'", self.i):
                chunk = self._ansi_c()
                text.append(chunk)
                bare.append(_QUOTED * len(chunk))
            elif c == "$" and s.startswith('$"', self.i):
                self.i += 1
                chunk, is_dynamic, found = self._double_quoted()
                text.append(chunk)
                bare.append(_QUOTED * len(chunk))
                dynamic |= is_dynamic
                subs.extend(found)
            elif c == "$":
                is_dynamic, found, literal = self._dollar()
                dynamic |= is_dynamic
                subs.extend(found)
                text.append(literal)
                bare.append(literal)
            elif c == "`":
                subs.append(self._backticks(in_double_quotes=False))
                dynamic = True
            else:
                text.append(c)
                bare.append(c)
                self.i += 1
        if self.i == start:
            raise ShellSyntaxError(f"unexpected {s[start]!r}")
        skeleton = "".join(bare)
        value = "".join(text)
        if _GLOB.search(skeleton) or _BRACE_EXPANSION.search(skeleton):
            dynamic = True  # wildcards and {a,b} expand to names only known at run time
        if _NAME_START.match(skeleton[1:2]) and skeleton.startswith("="):
            dynamic = True  # zsh: `=rm` expands to the path of rm
        if skeleton.startswith("~"):
            value, dynamic = self._tilde(value, skeleton, dynamic)
        return Word(None if dynamic else value, s[start : self.i], subs, start)

    def _tilde(self, value: str, skeleton: str, dynamic: bool) -> tuple[str, bool]:
        # `~` and `~/x` are the caller's HOME; `~user` is some other home: unknown here.
        name_end = skeleton.find("/") if "/" in skeleton else len(skeleton)
        if name_end == 1 and self.home is not None:
            return self.home + value[1:], dynamic
        return value, True

    def _double_quoted(self) -> tuple[str, bool, list[str]]:
        """From an opening ``"``: the text, whether it expands at run time, nested commands."""
        s, n = self.s, len(self.s)
        self.i += 1
        text: list[str] = []
        subs: list[str] = []
        dynamic = False
        while True:
            if self.i >= n:
                raise ShellSyntaxError('unterminated " quote')
            c = s[self.i]
            if c == '"':
                self.i += 1
                return "".join(text), dynamic, subs
            if c == "\\" and self.i + 1 < n and s[self.i + 1] in '$`"\\\n':
                if s[self.i + 1] != "\n":
                    text.append(s[self.i + 1])
                self.i += 2
            elif c == "$":
                is_dynamic, found, literal = self._dollar()
                dynamic |= is_dynamic
                subs.extend(found)
                text.append(literal)
            elif c == "`":
                subs.append(self._backticks(in_double_quotes=True))
                dynamic = True
            else:
                text.append(c)
                self.i += 1

    def _dollar(self) -> tuple[bool, list[str], str]:
        """From a ``$``: (dynamic, nested commands, literal text if it is just a ``$``)."""
        s, n = self.s, len(self.s)
        nxt = s[self.i + 1] if self.i + 1 < n else ""
        if s.startswith("$((", self.i):
            self.i += 3
            return True, self._until_close("))", opening="("), ""
        if nxt == "(":
            sub = _Lexer(s, home=self.home, depth=self.depth + 1)
            _, end = sub.run(self.i + 2, nested=True)
            command = s[self.i + 2 : end]
            self.i = end + 1
            return True, [command], ""
        if nxt == "{":
            self.i += 2
            return True, self._until_close("}", opening="{"), ""
        if nxt == "[":
            self.i += 2
            return True, self._until_close("]", opening="["), ""
        if nxt and (_NAME_START.match(nxt) or nxt in _SPECIAL_PARAMS):
            match = _NAME.match(s, self.i + 1)
            self.i = match.end() if match else self.i + 2
            return True, [], ""
        self.i += 1
        return False, [], "$"

    def _until_close(self, closer: str, *, opening: str) -> list[str]:
        """Skip to the matching ``closer`` of ``${``, ``$((`` or ``$[``, returning the
        commands nested inside (quotes, ``$( )`` and backticks are honoured)."""
        s, n = self.s, len(self.s)
        depth = 0
        subs: list[str] = []
        while self.i < n:
            if depth == 0 and s.startswith(closer, self.i):
                self.i += len(closer)
                return subs
            c = s[self.i]
            if c == "\\":
                self.i += 2
            elif c == "'" and closer == "}":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise ShellSyntaxError("unterminated ' quote")
                self.i = end + 1
            elif c == '"':
                _, _, found = self._double_quoted()
                subs.extend(found)
            elif c == "$":
                _, found, _ = self._dollar()
                subs.extend(found)
            elif c == "`":
                subs.append(self._backticks(in_double_quotes=False))
            else:
                if c == opening:
                    depth += 1
                elif c == closer[0] and depth:
                    depth -= 1
                self.i += 1
        raise ShellSyntaxError(f"unterminated {opening}{closer[0]} expansion")

    def _backticks(self, *, in_double_quotes: bool) -> str:
        s, n = self.s, len(self.s)
        self.i += 1
        out: list[str] = []
        escapable = '$`\\"' if in_double_quotes else "$`\\"
        while self.i < n:
            c = s[self.i]
            if c == "`":
                self.i += 1
                return "".join(out)
            if c == "\\" and self.i + 1 < n and s[self.i + 1] in escapable:
                out.append(s[self.i + 1])
                self.i += 2
            else:
                out.append(c)
                self.i += 1
        raise ShellSyntaxError("unterminated ` command substitution")

    def _ansi_c(self) -> str:
        """``$'...'`` (bash, zsh, ksh): decode escapes, so ``$'\\x72m'`` reads as ``rm``."""
        s, n = self.s, len(self.s)
        self.i += 2
        out: list[str] = []
        while self.i < n:
            c = s[self.i]
            if c == "'":
                self.i += 1
                return "".join(out)
            if c != "\\":
                out.append(c)
                self.i += 1
                continue
            char, used = decode_escape(s, self.i + 1)
            out.append(char)
            self.i += 1 + used
        raise ShellSyntaxError("unterminated $' quote")

    def _process_substitution(self) -> Word:
        start = self.i
        sub = _Lexer(self.s, home=self.home, depth=self.depth + 1)
        _, end = sub.run(self.i + 2, nested=True)
        self.i = end + 1
        return Word(None, self.s[start : self.i], [self.s[start + 2 : end]], start)

    def _arith_command(self) -> Arith:
        # bash reads `((x))` as arithmetic, but dash reads it as two nested subshells and
        # runs `x`: so the inside is also checked as commands.
        start = self.i
        self.i += 2
        subs = self._until_close("))", opening="(")
        return Arith([*subs, self.s[start + 2 : self.i - 2]], start)


def _scan_expansions(text: str, home: str | None, depth: int) -> tuple[bool, list[str]]:
    """Expansions in text read as inside double quotes (an unquoted here-document body):
    whether any value depends on run time, and the commands nested in it."""
    # A `"` in a here-document body is plain text: neutralise it, then read the body as
    # the inside of one double-quoted string.
    lexer = _Lexer('"' + text.replace('"', "'") + '"', home=home, depth=depth + 1)
    _, dynamic, subs = lexer._double_quoted()
    return dynamic, subs
