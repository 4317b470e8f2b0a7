"""The confinement table: traversal, symlinks, prefix tricks, NUL, relative and empty
paths, denied roots; and the no-follow openers that close the check-then-use gap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loopsy.daemon.confine import Confinement, check_path_text, is_within, open_dir, open_real
from loopsy.protocol.errors import ApiError, Conflict, Forbidden, NotFound, ValidationFailed


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """
    base/
      you/                  allowed
        notes.txt
        sub/deep.txt
        secret/key          denied
        secretive.txt       (not denied: only a name prefix of 'secret')
        in-link -> sub/deep.txt
        out-link -> ../outside/data.txt
        out-dir -> ../outside
        loop -> loop
      youngster/file.txt    a sibling sharing the allowed name's prefix
      outside/data.txt
      alias -> you          a symlink naming the allowed root
    """
    base = tmp_path.resolve()
    you = base / "you"
    (you / "sub").mkdir(parents=True)
    (you / "secret").mkdir()
    (base / "youngster").mkdir()
    (base / "outside").mkdir()
    for path in [
        you / "notes.txt",
        you / "sub" / "deep.txt",
        you / "secret" / "key",
        you / "secretive.txt",
        base / "youngster" / "file.txt",
        base / "outside" / "data.txt",
    ]:
        path.write_text(path.name)
    (you / "in-link").symlink_to("sub/deep.txt")
    (you / "out-link").symlink_to("../outside/data.txt")
    (you / "out-dir").symlink_to("../outside")
    (you / "loop").symlink_to("loop")
    (base / "alias").symlink_to("you")
    return base


@pytest.fixture
def jail(tree: Path) -> Confinement:
    return Confinement.of([str(tree / "you")], [str(tree / "you" / "secret")])


ALLOWED = [
    ("you", "you"),
    ("you/notes.txt", "you/notes.txt"),
    ("you/sub/deep.txt", "you/sub/deep.txt"),
    ("you/sub/../notes.txt", "you/notes.txt"),
    ("you/./sub//deep.txt", "you/sub/deep.txt"),
    ("you/in-link", "you/sub/deep.txt"),
    ("you/secretive.txt", "you/secretive.txt"),
    ("you/not-yet-there.txt", "you/not-yet-there.txt"),
    ("you/new/../notes.txt", "you/notes.txt"),
    ("alias/notes.txt", "you/notes.txt"),
]

FORBIDDEN = [
    "youngster/file.txt",  # /base/you is a string prefix of /base/youngster
    "youngster",
    "you/../youngster/file.txt",
    "you/../outside/data.txt",
    "you/sub/../../outside/data.txt",
    "you/../../../../../../etc/passwd",
    "you/out-link",  # a symlink inside, pointing outside
    "you/out-dir/data.txt",  # through a symlinked directory
    "you/out-dir",
    "you/secret",
    "you/secret/key",
    "you/secret/../secret/key",
    "you/sub/../secret/key",
    "outside",
    "",  # replaced by the base itself below
]


@pytest.mark.parametrize(("raw", "real"), ALLOWED)
def test_allowed(tree: Path, jail: Confinement, raw: str, real: str) -> None:
    assert jail.resolve(f"{tree}/{raw}") == str(tree / real)


@pytest.mark.parametrize("raw", FORBIDDEN)
def test_forbidden(tree: Path, jail: Confinement, raw: str) -> None:
    with pytest.raises(Forbidden):
        jail.resolve(f"{tree}/{raw}" if raw else str(tree))


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "empty"),
        ("relative/path", "absolute"),
        ("./notes.txt", "absolute"),
        ("../etc/passwd", "absolute"),
        ("~/notes.txt", "absolute"),
        ("/you/no\x00tes", "NUL"),
        ("\x00", "NUL"),
        ("/" + "a" * 5000, "limit"),
    ],
)
def test_malformed_paths(jail: Confinement, raw: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        jail.resolve(raw)
    assert words in info.value.message
    with pytest.raises(ValidationFailed):
        jail.resolve_parent(raw)


def test_nul_checked_before_any_filesystem_call() -> None:
    assert check_path_text("/ok") == "/ok"
    with pytest.raises(ValidationFailed):
        check_path_text("/x\x00/../../etc")


def test_resolve_parent_keeps_the_final_name_unresolved(tree: Path, jail: Confinement) -> None:
    assert jail.resolve_parent(f"{tree}/you/out-link") == (str(tree / "you"), "out-link")
    assert jail.resolve_parent(f"{tree}/alias/sub/new.txt") == (str(tree / "you/sub"), "new.txt")
    assert jail.resolve_parent(f"{tree}/you/sub/../x") == (str(tree / "you"), "x")


@pytest.mark.parametrize(
    "raw",
    ["you/out-dir/new.txt", "youngster/new.txt", "you/secret/new", "you/../outside/new"],
)
def test_resolve_parent_refuses_escapes(tree: Path, jail: Confinement, raw: str) -> None:
    with pytest.raises(Forbidden):
        jail.resolve_parent(f"{tree}/{raw}")


@pytest.mark.parametrize("raw", ["you/", "you/..", "you/.", "/"])
def test_resolve_parent_needs_a_file_name(tree: Path, jail: Confinement, raw: str) -> None:
    with pytest.raises(ValidationFailed):
        jail.resolve_parent(raw if raw == "/" else f"{tree}/{raw}")


def test_root_allowed_still_honours_denied(tree: Path) -> None:
    jail = Confinement.of(["/"], [str(tree / "you" / "secret")])
    assert jail.resolve(f"{tree}/outside/data.txt") == str(tree / "outside/data.txt")
    with pytest.raises(Forbidden):
        jail.resolve(f"{tree}/you/secret/key")


def test_roots_given_through_symlinks_are_resolved(tree: Path) -> None:
    jail = Confinement.of([str(tree / "alias")], [str(tree / "alias" / "secret")])
    assert jail.resolve(f"{tree}/you/notes.txt") == str(tree / "you/notes.txt")
    with pytest.raises(Forbidden):
        jail.resolve(f"{tree}/you/secret/key")


def test_nothing_allowed_means_nothing(tree: Path) -> None:
    jail = Confinement.of([], [])
    with pytest.raises(Forbidden):
        jail.resolve(f"{tree}/you/notes.txt")


@pytest.mark.parametrize(
    ("path", "root", "inside"),
    [
        ("/home/you", "/home/you", True),
        ("/home/you/x", "/home/you", True),
        ("/home/youngster", "/home/you", False),
        ("/home/you2/x", "/home/you", False),
        ("/home", "/home/you", False),
        ("/anything", "/", True),
    ],
)
def test_is_within_compares_components(path: str, root: str, inside: bool) -> None:
    assert is_within(path, root) is inside


def test_symlink_loop_is_a_clear_error(tree: Path, jail: Confinement) -> None:
    real = jail.resolve(f"{tree}/you/loop")
    with pytest.raises(ApiError) as info:
        os.close(open_real(real, os.O_RDONLY))
    assert info.value.status in (403, 409)


def test_swapped_directory_is_not_followed(tree: Path, jail: Confinement) -> None:
    """Check, then an attacker swaps a checked directory for a symlink: the open fails."""
    real = jail.resolve(f"{tree}/you/sub/deep.txt")
    (tree / "you" / "sub").rename(tree / "you" / "sub-moved")
    (tree / "you" / "sub").symlink_to(tree / "outside")
    (tree / "outside" / "deep.txt").write_text("outside!")
    with pytest.raises(Conflict):
        open_real(real, os.O_RDONLY)
    with pytest.raises(Conflict):
        open_dir(str(tree / "you" / "sub"))


def test_swapped_final_symlink_is_not_followed(tree: Path, jail: Confinement) -> None:
    real = jail.resolve(f"{tree}/you/notes.txt")
    (tree / "you" / "notes.txt").unlink()
    (tree / "you" / "notes.txt").symlink_to(tree / "outside" / "data.txt")
    with pytest.raises(Conflict):
        open_real(real, os.O_RDONLY)


def test_missing_is_not_found(tree: Path, jail: Confinement) -> None:
    with pytest.raises(NotFound):
        open_real(jail.resolve(f"{tree}/you/nope/x"), os.O_RDONLY)
