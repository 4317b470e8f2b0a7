"""Running wrangler (Cloudflare's CLI) for ``loopsy relay deploy``, and reading what it says:
where it is, how to run it (on a terminal, in a pseudo-terminal of its own: wrangler talks to
a user only when its stdin and stdout are terminals), the URL in its deploy output, the
secrets it lists, and what its failures mean.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from loopsy.protocol.errors import LoopsyError

WRANGLER_ENV = "LOOPSY_WRANGLER"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
WORKERS_DEV_URL = re.compile(r"https://[a-z0-9.-]+\.workers\.dev\b")
CUSTOM_DOMAIN = re.compile(r"^\s+([a-z0-9.-]+\.[a-z]{2,63})\s+\(custom domain\b", re.MULTILINE)


@dataclass(frozen=True)
class Wrangler:
    """How to run wrangler: an executable, or ``npx wrangler``."""

    command: tuple[str, ...]
    source: str  # "relay/node_modules", "PATH", "npx" or "LOOPSY_WRANGLER"


def find_wrangler(worker_dir: Path, environ: dict[str, str] | None = None) -> Wrangler | None:
    """relay/'s pinned wrangler, else one on PATH, else None (the caller may offer npx)."""
    env = os.environ if environ is None else environ
    chosen = env.get(WRANGLER_ENV)
    if chosen:
        return Wrangler((chosen,), WRANGLER_ENV)
    pinned = worker_dir / "node_modules" / ".bin" / "wrangler"
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return Wrangler((str(pinned),), "relay/node_modules")
    found = shutil.which("wrangler", path=env.get("PATH"))
    if found:
        return Wrangler((found,), "PATH")
    return None


@dataclass(frozen=True)
class Deployed:
    url: str
    workers_dev: str | None
    domains: tuple[str, ...]


def parse_deploy_output(text: str) -> Deployed | None:
    """The relay's URL from ``wrangler deploy``'s output (``Published`` in wrangler 2 and early
    3, ``Deployed <name> triggers`` since): a custom domain first, else the workers.dev URL."""
    plain = ANSI.sub("", text)
    dev = WORKERS_DEV_URL.search(plain)
    domains = tuple(dict.fromkeys(m.group(1) for m in CUSTOM_DOMAIN.finditer(plain)))
    if domains:
        return Deployed(f"https://{domains[0]}", dev.group(0) if dev else None, domains)
    if dev:
        return Deployed(dev.group(0), dev.group(0), ())
    return None


FAILURES: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(
            r"not authenticated|not logged in|CLOUDFLARE_API_TOKEN|Failed to fetch auth token"
            r"|Authentication error|Invalid access token|code: 10000",
            re.IGNORECASE,
        ),
        "wrangler is not logged in to Cloudflare",
        "run `npx wrangler login` in relay/ (it opens your browser), or set CLOUDFLARE_API_TOKEN,"
        " then run `loopsy relay deploy` again",
    ),
    (
        re.compile(r"register a workers\.dev subdomain", re.IGNORECASE),
        "your Cloudflare account has no workers.dev subdomain yet",
        "open the Workers page of the Cloudflare dashboard once to pick one, then deploy again",
    ),
    (
        re.compile(
            r"already (?:taken|in use|exists|has externally managed DNS)|is taken"
            r"|not available|conflict",
            re.IGNORECASE,
        ),
        "that name or domain is taken",
        "choose another worker name (--name) or custom domain (--domain)",
    ),
    (
        re.compile(
            r"ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|fetch failed|getaddrinfo"
            r"|network|socket hang up",
            re.IGNORECASE,
        ),
        "wrangler could not reach Cloudflare",
        "check this machine's internet connection (and any proxy), then deploy again",
    ),
]


def explain_failure(step: str, output: str) -> LoopsyError:
    plain = ANSI.sub("", output)
    for pattern, message, hint in FAILURES:
        if pattern.search(plain):
            return LoopsyError(f"{step} failed: {message}", hint=hint)
    tail = " | ".join(line.strip() for line in plain.strip().splitlines()[-4:] if line.strip())
    return LoopsyError(
        f"{step} failed" + (f": {tail}" if tail else ""),
        hint="the lines above are wrangler's own; `npx wrangler whoami` checks the login",
    )


def on_terminal() -> bool:
    """Whether wrangler can be given a terminal of its own (see Runner.run)."""
    return os.name == "posix" and sys.stdin.isatty() and sys.stderr.isatty()


class Runner:
    """Runs wrangler in relay/, echoing its output (the login link included) to stderr."""

    def __init__(
        self,
        wrangler: Wrangler,
        worker_dir: Path,
        echo: Callable[[str], None],
        *,
        terminal: bool = False,
    ) -> None:
        self.wrangler = wrangler
        self.worker_dir = worker_dir
        self.echo = echo
        self.terminal = terminal
        self.env = {**os.environ, "WRANGLER_SEND_METRICS": "false"}

    def run(
        self, args: Sequence[str], *, stdin: str | None = None, interactive: bool = False
    ) -> tuple[int, str]:
        """Run wrangler; its exit code and output. ``interactive`` (with ``terminal``): its
        output goes through a pseudo-terminal, as wrangler talks to a user only when both
        its stdin and stdout are terminals: the browser login, the account choice, and the
        question before it takes over a custom domain or DNS record in use (with a pipe for
        stdout it overrides those without asking)."""
        command = [*self.wrangler.command, *args]
        if interactive and self.terminal and stdin is None:
            return self._run_on_terminal(command)
        try:
            proc = subprocess.Popen(
                command,
                cwd=self.worker_dir,
                env=self.env,
                stdin=subprocess.PIPE if stdin is not None else None,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise LoopsyError(
                f"cannot run {command[0]}: {exc.strerror}", hint=INSTALL_HINT
            ) from None
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            self.echo(line.rstrip("\n"))
        return proc.wait(), "".join(lines)

    def _run_on_terminal(self, command: list[str]) -> tuple[int, str]:
        import pty
        import select

        master, slave = pty.openpty()
        _copy_window_size(slave)
        try:
            # stdin stays this terminal: wrangler reads the user's answers from it.
            proc = subprocess.Popen(
                command, cwd=self.worker_dir, env=self.env, stdout=slave, stderr=slave
            )
        except OSError as exc:
            os.close(master)
            raise LoopsyError(
                f"cannot run {command[0]}: {exc.strerror}", hint=INSTALL_HINT
            ) from None
        finally:
            os.close(slave)
        chunks: list[bytes] = []
        out = sys.stderr.buffer
        try:
            while True:
                ready, _, _ = select.select([master], [], [], 0.1)
                if not ready:
                    if proc.poll() is not None:
                        break  # a helper it started may still hold the terminal open
                    continue
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer has gone
                    break
                if not data:
                    break
                chunks.append(data)
                out.write(data)  # as it comes: a question has no newline yet
                out.flush()
        finally:
            os.close(master)
        text = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
        return proc.wait(), text


def _copy_window_size(fd: int) -> None:
    """Give the pseudo-terminal the size of ours (wrangler draws its tables to fit)."""
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(sys.stderr.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)
    except OSError:
        pass


INSTALL_HINT = (
    "install Node.js 20+, then `npm ci` in relay/ (scripts/setup does it), or "
    "`npm install -g wrangler`"
)


def pinned_wrangler(worker_dir: Path) -> str:
    """The wrangler version relay/package.json pins (newer ones need a newer Node.js)."""
    try:
        package = json.loads((worker_dir / "package.json").read_text())
        return str(package["devDependencies"]["wrangler"])
    except (OSError, ValueError, KeyError, TypeError):
        return "4"


def secret_names(listing: str) -> set[str]:
    """Names from ``wrangler secret list --format json`` (output may carry log lines too)."""
    start = listing.find("[")
    if start < 0:
        return set()
    try:
        value = json.JSONDecoder().raw_decode(listing[start:])[0]
    except ValueError:
        return set()
    return {str(item["name"]) for item in value if isinstance(item, dict) and "name" in item}
