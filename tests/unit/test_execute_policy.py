"""The execution policy: every way to reach a denied program is refused, and ordinary
commands (including ones that merely mention a denied name) pass."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from loopsy.config import DEFAULT_DENYLIST
from loopsy.daemon.execute.policy import Checker, Context, Refused, approve
from loopsy.daemon.execute.shell_scan import FromText
from loopsy.protocol.errors import NotFound

PATH = os.environ.get("PATH", os.defpath)


def check(
    argv: Sequence[str],
    *,
    stdin: str | None = None,
    deny: Sequence[str] = DEFAULT_DENYLIST,
    allow: Sequence[str] | None = None,
    cwd: str = "/tmp",
    path: str = PATH,
) -> None:
    """Judge argv as the daemon does (wrappers need not be installed here)."""
    checker = Checker(deny, allow, PATH)
    context = Context(
        cwd=cwd,
        path_var=path,
        home="/root",
        stdin=FromText(stdin) if stdin is not None else None,
    )
    checker.check_argv(list(argv), context)


def sh(text: str) -> list[str]:
    return ["sh", "-c", text]


REFUSED: list[tuple[list[str], str | None]] = [
    # the program itself, however it is named
    (["rm", "-rf", "/tmp/x"], None),
    (["/bin/rm", "x"], None),
    (["/usr/bin/rm", "x"], None),
    (["/usr/bin/../bin/rm", "x"], None),
    (["//usr//bin//rm", "x"], None),
    (["rmdir", "x"], None),
    (["mkfs.ext4", "/dev/null"], None),
    (["dd", "if=/dev/zero"], None),
    (["shutdown", "-h", "now"], None),
    (["reboot"], None),
    # shells and every way a command hides in a command line
    (sh("rm -rf x"), None),
    (["bash", "-c", "rm x"], None),
    (["dash", "-c", "rm x"], None),
    (["zsh", "-c", "rm x"], None),
    (["ksh", "-c", "rm x"], None),
    (["/bin/sh", "-c", "rm x"], None),
    (["sh", "-ec", "rm x"], None),
    (["sh", "-c", "--", "rm x"], None),
    (["bash", "-lc", "rm x"], None),
    (["bash", "-o", "pipefail", "-c", "rm x"], None),
    (["bash", "--norc", "--noprofile", "-c", "rm x"], None),
    (["bash", "--rcfile", "/dev/null", "-c", "rm x"], None),
    (sh("echo hi; rm x"), None),
    (sh("true && rm x"), None),
    (sh("false || rm x"), None),
    (sh("ls | rm x"), None),
    (sh("ls |& rm x"), None),
    (sh("sleep 1 & rm x"), None),
    (sh("ls\nrm x"), None),
    (sh("ls # comment\nrm x"), None),
    (sh("(rm x)"), None),
    (sh("( (rm x) )"), None),
    (sh("((rm x))"), None),
    (sh("{ rm x; }"), None),
    (sh("echo $(rm x)"), None),
    (sh("echo $( $(rm x) )"), None),
    (sh('echo "$(rm x)"'), None),
    (sh("echo `rm x`"), None),
    (sh('echo "`rm x`"'), None),
    (sh("echo ${y:-$(rm x)}"), None),
    (sh("echo $(( $(rm x) + 1 ))"), None),
    (sh("cat <(rm x)"), None),
    (sh("tee >(rm x)"), None),
    (sh("cat <<EOF\n$(rm x)\nEOF\n"), None),
    (sh("x=$(rm y)"), None),
    (sh("echo hi > $(rm x)"), None),
    (sh("case a in $(rm x)) ;; esac"), None),
    (sh("for f in $(rm x); do :; done"), None),
    # quoting and escaping tricks
    (sh("r''m x"), None),
    (sh('r""m x'), None),
    (sh('"rm" x'), None),
    (sh("'rm' x"), None),
    (sh("\\rm x"), None),
    (sh("r\\m x"), None),
    (sh("r\\\nm x"), None),
    (sh("$'\\x72m' x"), None),
    (sh("$'\\162m' x"), None),
    (sh("$'\\u0072m' x"), None),
    (sh('$"rm" x'), None),
    # control structures: the keyword is not the command, what follows it is
    (sh("if rm x; then :; fi"), None),
    (sh("if true; then rm x; else :; fi"), None),
    (sh("if false; then :; elif rm x; then :; fi"), None),
    (sh("while rm x; do break; done"), None),
    (sh("until rm x; do :; done"), None),
    (sh("for i in 1 2; do rm x; done"), None),
    (sh("select i in a; do rm x; done"), None),
    (sh("case a in a) rm x;; esac"), None),
    (sh("case a in (a|b) echo;; c) rm x;; esac"), None),
    (sh("! rm x"), None),
    (sh("time rm x"), None),
    (sh("coproc rm x"), None),
    (sh("f() { rm x; }; f"), None),
    (sh("function f { rm x; }"), None),
    (sh("[[ -f x ]] && rm x"), None),
    (sh("if false; then rm() { :; }; fi; rm x"), None),
    # prefixes and redirections before the command
    (sh("X=1 Y=2 rm x"), None),
    (sh("2>/dev/null rm x"), None),
    (sh(">out rm x"), None),
    (sh("<in rm x"), None),
    (sh("PATH=/nowhere rm x"), None),
    # names known only at run time
    (sh("X=rm; $X -rf x"), None),
    (sh("${X} x"), None),
    (sh('"$@" x'), None),
    (sh("$(echo rm) x"), None),
    (sh("`echo rm` x"), None),
    (sh("/bin/r? x"), None),
    (sh("/usr/bin/r* x"), None),
    (sh("/bin/[r]m x"), None),
    (sh("/bin/{rm,ls} x"), None),
    (sh("=rm x"), None),
    (sh("~nobody/rm x"), None),
    # wrappers
    (["env", "rm"], None),
    (["env", "-i", "rm"], None),
    (["env", "-", "rm"], None),
    (["env", "FOO=1", "BAR=2", "rm"], None),
    (["env", "-u", "HOME", "rm"], None),
    (["env", "-uHOME", "rm"], None),
    (["env", "--unset=HOME", "rm"], None),
    (["env", "--", "rm"], None),
    (["env", "-S", "rm -rf x"], None),
    (["env", "-S", "FOO=1 rm -rf x"], None),
    (["env", "--split-string=rm x"], None),
    (["env", "-C", "/usr/bin", "./rm"], None),
    (["xargs", "rm"], None),
    (["xargs", "-0", "rm"], None),
    (["xargs", "-n", "1", "rm"], None),
    (["xargs", "-n1", "-P4", "rm"], None),
    (["xargs", "-I{}", "rm", "{}"], None),
    (["xargs", "sh"], None),
    (["xargs", "-I{}", "sh", "-c", "{}"], None),
    (["xargs", "env"], None),
    (["nice", "rm"], None),
    (["nice", "-n", "5", "rm"], None),
    (["nice", "-n5", "rm"], None),
    (["nice", "-10", "rm"], None),
    (["nice", "--adjustment=5", "rm"], None),
    (["timeout", "5", "rm"], None),
    (["timeout", "-s", "KILL", "5", "rm"], None),
    (["timeout", "--signal=KILL", "-k", "1", "5", "rm"], None),
    (["timeout", "--preserve-status", "5", "rm"], None),
    (["busybox", "rm", "x"], None),
    (["busybox", "sh", "-c", "rm x"], None),
    (["busybox", "busybox", "rm"], None),
    (["toybox", "rm", "x"], None),
    (["nohup", "rm"], None),
    (["setsid", "rm"], None),
    (["setsid", "-f", "rm"], None),
    (["stdbuf", "-o0", "rm"], None),
    (["stdbuf", "--output=L", "-e", "0", "rm"], None),
    (["ionice", "-c3", "rm"], None),
    (["ionice", "-c", "2", "-n", "7", "rm"], None),
    (["chrt", "-f", "10", "rm"], None),
    (["chrt", "0", "rm"], None),
    (["taskset", "1", "rm"], None),
    (["taskset", "-c", "0", "rm"], None),
    (["time", "rm"], None),
    (["time", "-p", "rm"], None),
    (["time", "-f", "%e", "rm"], None),
    (["command", "rm"], None),
    (["command", "-p", "rm"], None),
    (sh("command rm x"), None),
    (sh("builtin exec rm x"), None),
    (sh("exec rm x"), None),
    (sh("exec -a name rm x"), None),
    (["sudo", "rm"], None),
    (["sudo", "-u", "root", "rm"], None),
    (["sudo", "-E", "--", "rm"], None),
    (["sudo", "FOO=1", "rm"], None),
    (["sudo", "--user=root", "rm"], None),
    (["doas", "rm"], None),
    (["doas", "-u", "root", "rm"], None),
    (["find", ".", "-exec", "rm", "{}", ";"], None),
    (["find", ".", "-execdir", "rm", "{}", "+"], None),
    (["find", ".", "-ok", "rm", "{}", ";"], None),
    (["find", ".", "-exec", "{}", ";"], None),
    (sh('find "$D" -name x'), None),
    (sh("eval rm x"), None),
    (sh("eval 'r''m' x"), None),
    (sh('eval "$X"'), None),
    (sh("trap 'rm x' EXIT"), None),
    (sh("alias ls=rm\nls x"), None),
    (sh("mapfile -C 'rm x' -c 1 arr < /dev/null"), None),
    (["flock", "/tmp/lock", "rm"], None),
    (["flock", "/tmp/lock", "-c", "rm x"], None),
    (["flock", "-c", "rm x", "/tmp/lock"], None),
    (["su", "-c", "rm x"], None),
    (["su", "root", "-c", "rm x"], None),
    (["su", "--command=rm x"], None),
    (["sg", "staff", "-c", "rm x"], None),
    (["watch", "rm", "x"], None),
    (["watch", "-n", "1", "rm x"], None),
    (["watch", "-x", "rm", "x"], None),
    (["script", "-c", "rm x", "/dev/null"], None),
    (["chroot", "/", "rm"], None),
    (["unshare", "rm"], None),
    (["unshare", "-r", "rm"], None),
    (["nsenter", "-t", "1", "-m", "rm"], None),
    (["setpriv", "--reuid=1", "rm"], None),
    (["strace", "rm"], None),
    (["strace", "-f", "-o", "/dev/null", "rm"], None),
    (["ltrace", "rm"], None),
    (["systemd-run", "--user", "rm"], None),
    (["bwrap", "--bind", "/", "/", "rm"], None),
    (["fakeroot", "rm"], None),
    (["perf", "stat", "rm"], None),
    (["valgrind", "rm"], None),
    (["prlimit", "--nofile=1", "rm"], None),
    (["nice", "--bogus-option", "rm"], None),
    (["timeout", "--bogus", "5", "rm"], None),
    (["nohup", "nice", "timeout", "5", "env", "sh", "-c", "xargs rm"], None),
    (["nohup", "setsid", "stdbuf", "-o0", "ionice", "-c3", "chrt", "-b", "0", "rm"], None),
    (["sh", "-c", "sh -c 'sh -c \"rm x\"'"], None),
    (sh("nice -n 5 $X"), None),
    (sh("timeout $T rm"), None),
    # shells that read their commands from stdin
    (["sh"], "rm -rf x\n"),
    (["bash", "-s"], "rm x\n"),
    (["sh", "-s", "arg"], "echo ok; rm x\n"),
    (sh("sh"), "rm x\n"),
    (sh("echo 'rm -rf x' | sh"), None),
    (sh("cat cmds | bash"), None),
    (sh("sh <<EOF\nrm -rf x\nEOF\n"), None),
    (sh("sh <<'EOF'\nrm -rf x\nEOF\n"), None),
    (sh("sh <<-EOF\n\trm -rf x\n\tEOF\n"), None),
    (sh("sh <<< 'rm x'"), None),
    (sh("bash <<< $X"), None),
    (sh("(sh)"), None),
    (sh("exec 0<&3; sh"), None),
    (["sudo", "-s"], "rm x\n"),
    (["chroot", "/"], "rm x\n"),
    # shells whose syntax is not read: a denied name anywhere is refused
    (["fish", "-c", "rm x"], None),
    (["csh", "-c", "rm x"], None),
    (["sh", "-c", "echo 'unterminated"], None),
]


@pytest.mark.parametrize(("argv", "stdin"), REFUSED, ids=lambda v: repr(v)[:60])
def test_refused(argv: list[str], stdin: str | None) -> None:
    with pytest.raises(Refused) as refused:
        check(argv, stdin=stdin)
    assert refused.value.status == 403
    assert refused.value.message.startswith("refused: ")
    assert refused.value.hint


ALLOWED: list[tuple[list[str], str | None]] = [
    (["ls", "-la"], None),
    (["git", "rm", "--cached", "x"], None),
    (["grep", "-r", "rm -rf", "."], None),
    (["echo", "rm", "-rf", "/"], None),
    (["rmate", "x"], None),
    (["mkfsx"], None),
    (["python3", "-c", "print('rm')"], None),
    (sh("echo 'rm -rf /'"), None),
    (sh('echo "rm is $HOME"'), None),
    (sh("echo rm > notes.txt"), None),
    (sh("cat <<'EOF'\nrm -rf x\nEOF\n"), None),
    (sh("cat <<EOF\nrm -rf $HOME\nEOF\n"), None),
    (sh("ls | grep rm | wc -l"), None),
    (sh("for f in rm rmdir; do echo $f; done"), None),
    (sh("for f in *.txt; do wc -l \"$f\"; done"), None),
    (sh("case $x in rm) echo no;; esac"), None),
    (sh("echo $(date) `whoami` $((1 + 2))"), None),
    (["bash", "-c", "[[ -f x ]] && echo yes || echo no"], None),
    (sh("[ -f x ] && echo yes"), None),
    (sh("a=1; b=$((a + 1)); echo $b"), None),
    (sh("command -v rm"), None),
    (sh("type rm; which rm; man rm"), None),
    (sh("f() { echo hi; }; f"), None),
    (sh("trap 'echo bye' EXIT; true"), None),
    (sh("cd /tmp && ls"), None),
    (sh("export PATH=$PATH:/opt/bin; ls"), None),
    (sh("git status 2>&1 | head -5"), None),
    (sh("if [ -d x ]; then echo d; fi"), None),
    (sh("x=$(ls | wc -l); echo $x"), None),
    (["timeout", "5", "sleep", "1"], None),
    (["nice", "-n", "5", "make"], None),
    (["env", "FOO=1", "python3", "-c", "1"], None),
    (["xargs", "-0", "grep", "foo"], None),
    (["find", ".", "-name", "*.py", "-exec", "grep", "-l", "rm", "{}", ";"], None),
    (["sh", "build.sh"], None),  # script files are not read for the denylist
    (["sh"], None),  # stdin is /dev/null: nothing runs
    (["sh"], "echo hello\nls\n"),
    (sh("sudo -n true"), None),
    (["watch", "-n", "1", "date"], None),
]


@pytest.mark.parametrize(("argv", "stdin"), ALLOWED, ids=lambda v: repr(v)[:60])
def test_allowed(argv: list[str], stdin: str | None) -> None:
    check(argv, stdin=stdin)


def test_refusal_names_the_program_and_the_path() -> None:
    with pytest.raises(Refused) as refused:
        check(["nohup", "sh", "-c", "ls; xargs rm"])
    assert refused.value.message == (
        "refused: `rm` is on execution.denylist (run through nohup → sh → xargs)"
    )
    assert "guard rail" in str(refused.value.hint)


def test_names_built_at_run_time_say_so() -> None:
    with pytest.raises(Refused, match="only known at run time"):
        check(sh("$CMD x"))


@pytest.fixture
def bins(tmp_path: Path) -> Path:
    """A directory of look-alikes: symlinks and a hard link to a denied program, a
    multi-call binary and its applet links."""
    zap = tmp_path / "real" / "zap"
    zap.parent.mkdir()
    zap.write_text("#!/bin/sh\nexit 0\n")
    zap.chmod(0o755)
    links = tmp_path / "links"
    links.mkdir()
    (links / "innocent").symlink_to(zap)
    (links / "chain").symlink_to(links / "innocent")
    os.link(zap, links / "hardlinked")
    shutil.copy(zap, links / "renamed-copy")
    busybox = tmp_path / "real" / "busybox"
    busybox.write_text("#!/bin/sh\nexit 0\n")
    busybox.chmod(0o755)
    (links / "zap").symlink_to(busybox)
    (links / "cat").symlink_to(busybox)
    (links / "rm").symlink_to(shutil.which("rm") or "/bin/rm")
    return tmp_path


def zap_path(bins: Path) -> str:
    return f"{bins / 'real'}:{PATH}"


@pytest.mark.parametrize("name", ["./innocent", "./chain", "./hardlinked", "./rm"])
def test_symlinks_and_hard_links_are_caught(bins: Path, name: str) -> None:
    checker = Checker([*DEFAULT_DENYLIST, "zap"], None, zap_path(bins))
    context = Context(cwd=str(bins / "links"), path_var=PATH, home=None, stdin=None)
    with pytest.raises(Refused):
        checker.check_argv([name], context)
    with pytest.raises(Refused):
        checker.check_argv(["sh", "-c", f"{name} x"], context)


def test_a_renamed_copy_is_not_caught_by_the_denylist(bins: Path) -> None:
    """The documented limit: a guard rail, not a sandbox."""
    checker = Checker(["zap"], None, zap_path(bins))
    context = Context(cwd=str(bins / "links"), path_var=PATH, home=None, stdin=None)
    checker.check_argv(["./renamed-copy"], context)


def test_multi_call_applets_are_judged_by_their_name(bins: Path) -> None:
    checker = Checker(["zap"], None, PATH)
    context = Context(cwd=str(bins / "links"), path_var=PATH, home=None, stdin=None)
    with pytest.raises(Refused):
        checker.check_argv(["./zap"], context)  # busybox applet named zap
    checker.check_argv(["./cat", "x"], context)  # another applet of the same binary


# -- the allowlist: a real restriction ------------------------------------------------


def test_allowlist_admits_only_listed_programs() -> None:
    check(["ls", "-l"], allow=["ls"])
    check([shutil.which("ls") or "/bin/ls"], allow=["ls"])
    with pytest.raises(Refused, match=r"not on execution\.allowlist"):
        check(["cat", "x"], allow=["ls"])
    with pytest.raises(Refused, match=r"not on execution\.allowlist"):
        check(["nosuchprogram"], allow=["ls"])


def test_allowlist_matches_files_not_names(tmp_path: Path) -> None:
    """A copy of another program named like an allowed one, found through a PATH the
    request chose, is not the allowed program."""
    fake = tmp_path / "ls"
    shutil.copy(shutil.which("cat") or "/bin/cat", fake)
    fake.chmod(0o755)
    with pytest.raises(Refused):
        check(["ls"], allow=["ls"], path=str(tmp_path))
    with pytest.raises(Refused):
        check(["env", f"PATH={tmp_path}", "ls"], allow=["env", "ls"])
    (tmp_path / "link").symlink_to(shutil.which("ls") or "/bin/ls")
    check(["./link"], allow=["ls"], cwd=str(tmp_path))


def test_allowlist_shell_strings_need_the_shell_and_every_command() -> None:
    check(sh("ls -l | ls"), allow=["sh", "ls"])
    check(sh("echo hi; cd /tmp; pwd; f() { ls; }; f"), allow=["sh", "ls"])
    with pytest.raises(Refused, match="`cat`"):
        check(sh("ls; cat x"), allow=["sh", "ls"])
    with pytest.raises(Refused, match="`sh`"):
        check(sh("ls"), allow=["ls"])
    with pytest.raises(Refused, match="PATH is changed at run time"):
        check(sh("export PATH=$PATH:/opt; ls"), allow=["sh", "ls"])
    with pytest.raises(Refused, match="cannot tell"):
        check(["nice", "--bogus", "ls"], allow=["nice", "ls"])


def test_allowlist_reads_script_files(tmp_path: Path) -> None:
    good = tmp_path / "good.sh"
    good.write_text("ls -l\necho done\n")
    bad = tmp_path / "bad.sh"
    bad.write_text("ls\ncat /etc/passwd\n")
    check(["sh", "good.sh"], allow=["sh", "ls"], cwd=str(tmp_path))
    with pytest.raises(Refused, match="`cat`"):
        check(["sh", "bad.sh"], allow=["sh", "ls"], cwd=str(tmp_path))
    with pytest.raises(Refused, match="cannot read the script"):
        check(["sh", "missing.sh"], allow=["sh", "ls"], cwd=str(tmp_path))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(Refused, match="cannot read the script"):
        check(["sh", "fifo"], allow=["sh", "ls"], cwd=str(tmp_path))  # never opened
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_opaque_shells_under_the_allowlist(tmp_path: Path) -> None:
    fish = tmp_path / "fish"
    fish.write_text("#!/bin/sh\nexit 0\n")
    fish.chmod(0o755)
    allow = [str(fish), "ls"]
    check(["fish"], allow=allow, path=f"{tmp_path}:{PATH}")  # stdin is /dev/null
    with pytest.raises(Refused, match="cannot check commands written for fish"):
        check(["fish", "-c", "ls"], allow=allow, path=f"{tmp_path}:{PATH}")


# -- limits -----------------------------------------------------------------------------


def test_deep_nesting_is_refused_not_recursed_for_ever() -> None:
    with pytest.raises(Refused, match="too deeply nested"):
        check(["nohup"] * 200 + ["ls"])
    nested = "ls"
    for _ in range(60):
        nested = f"echo $({nested})"
    with pytest.raises(Refused):
        check(sh(nested))


def run_approve(argv: list[str] | None = None, shell: str | None = None) -> list[str]:
    return approve(
        argv=argv,
        shell=shell,
        cwd="/tmp",
        env={"PATH": PATH},
        stdin=None,
        denylist=DEFAULT_DENYLIST,
        allowlist=None,
    )


def test_approve_resolves_the_program_and_reports_missing_ones() -> None:
    assert run_approve(["ls", "-l"]) == [shutil.which("ls"), "-l"]
    assert run_approve(shell="echo hi") == ["/bin/sh", "-c", "echo hi"]
    with pytest.raises(NotFound, match="no executable program 'no-such-program' on PATH"):
        run_approve(["no-such-program"])
    with pytest.raises(Refused):
        run_approve(shell="rm -rf /tmp/x")
