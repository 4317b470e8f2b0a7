"""The shell lexer and scanner the execution policy reads command strings with."""

from __future__ import annotations

import pytest

from loopsy.daemon.execute.shell_lexer import Op, ShellSyntaxError, Word, tokenize
from loopsy.daemon.execute.shell_scan import FromFile, FromText, scan


def words(text: str) -> list[str | None]:
    return [t.text for t in tokenize(text) if isinstance(t, Word)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("echo  a\tb", ["echo", "a", "b"]),
        ("r''m \"x y\" 'z'", ["rm", "x y", "z"]),
        ("\\rm a\\ b", ["rm", "a b"]),
        ("$'\\x72\\155\\u00e9\\n'", ["rm\u00e9\n"]),
        ("echo $HOME ${X} $(date) `id` $((1+2))", ["echo", None, None, None, None, None]),
        ("ls *.py a[0-9] {a,b} [ [[", ["ls", None, None, None, "[", "[["]),
        ("cd ~/src ~other", ["cd", "/home/u/src", None]),
        ("a#b # comment", ["a#b"]),
    ],
)
def test_words(text: str, expected: list[str | None]) -> None:
    tokens = tokenize(text, home="/home/u")
    assert [t.text for t in tokens if isinstance(t, Word)] == expected


def test_operators_and_redirections() -> None:
    ops = [t.op for t in tokenize("a && b || c | d |& e ; f & g 2>x <y >>z") if isinstance(t, Op)]
    assert ops == ["&&", "||", "|", "|&", ";", "&", ">", "<", ">>"]
    fd = [t.fd for t in tokenize("cmd 2>err") if isinstance(t, Op)]
    assert fd == [2]


def test_nested_substitutions_are_reported() -> None:
    [word] = [t for t in tokenize('"$(a $(b) `c`)"') if isinstance(t, Word)]
    assert word.text is None
    assert word.subs == ["a $(b) `c`"]


def test_case_inside_command_substitution() -> None:
    [_, word] = [t for t in tokenize("echo $(case x in a) echo y;; esac)") if isinstance(t, Word)]
    assert word.subs == ["case x in a) echo y;; esac"]


def test_heredocs() -> None:
    script = scan("cat <<EOF >out\nline $(id)\nEOF\nsh <<'X'\nrm y\nX\n")
    cat, shell = script.commands
    assert cat.stdin == FromText(None)  # expands at run time
    assert shell.stdin == FromText("rm y\n")
    assert script.nested == ["id"]


def test_stdin_sources() -> None:
    script = scan("a < f; b <<< 'w'; c | d; e")
    assert [c.stdin for c in script.commands] == [
        FromFile("f"),
        FromText("w\n"),
        None,
        FromText(None),
        None,
    ]


def test_keywords_are_not_commands() -> None:
    script = scan("if a; then b; elif c; then d; else e; fi; for i in x y; do f; done")
    assert [c.words[0].text for c in script.commands] == ["a", "b", "c", "d", "e", "f"]
    script = scan("case $v in p1|p2) g;; (p3) h;; esac; k() { l; }; function m { n; }")
    assert [c.words[0].text for c in script.commands] == ["g", "h", "l", "n"]
    assert script.functions == {"k", "m"}


@pytest.mark.parametrize(
    "text", ["echo 'open", 'echo "open', "echo $(open", "echo `open", "echo ${open", "$'open"]
)
def test_unreadable_strings_raise(text: str) -> None:
    with pytest.raises(ShellSyntaxError):
        tokenize(text)


def test_nesting_is_bounded() -> None:
    with pytest.raises(ShellSyntaxError, match="nested"):
        tokenize("$(" * 100 + ")" * 100)
