"""`loopsy relay deploy`: the real wrangler builds the bundle offline (--dry-run); a fake
wrangler proves the secret goes through stdin only, is kept on re-deploy and changes with
--rotate-secret; URLs come from real wrangler output; failures say what to do."""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopsy.cli.relay_deploy import WORKER_DIR
from loopsy.cli.wrangler import (
    Deployed,
    explain_failure,
    find_wrangler,
    parse_deploy_output,
    secret_names,
)
from tests.conftest import Cli

FAKE = Path(__file__).parent / "fake" / "wrangler"

# What wrangler printed, by version (ANSI colours and all).
WRANGLER_4 = """ \u26c5\ufe0f wrangler 4.86.0
-------------------
Total Upload: 61.02 KiB / gzip: 14.96 KiB
Your Worker has access to the following bindings:
Binding                          Resource
env.DEVICES (DeviceRelay)        Durable Object
Uploaded loopsy-relay (2.41 sec)
Deployed loopsy-relay triggers (0.87 sec)
  https://loopsy-relay.alice-example.workers.dev
Current Version ID: 5f3c9a2e-1111-4222-8333-944455556666
"""
WRANGLER_3 = """\x1b[33m\u26c5\ufe0f wrangler 3.78.2\x1b[0m
Total Upload: 58.10 KiB / gzip: 14.01 KiB
Uploaded my-relay (1.92 sec)
Published my-relay (0.41 sec)
  https://my-relay.bob.workers.dev
Current Deployment ID: 0d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d
"""
WRANGLER_CUSTOM_DOMAIN = """Uploaded loopsy-relay (2.02 sec)
Deployed loopsy-relay triggers (3.10 sec)
  https://loopsy-relay.alice-example.workers.dev
  relay.example.com (custom domain - zone name: example.com)
Current Version ID: 1a2b3c4d-0000-4000-8000-000000000000
"""
WRANGLER_DOMAIN_ONLY = """Uploaded loopsy-relay (2.02 sec)
Deployed loopsy-relay triggers (3.10 sec)
  relay.example.org (custom domain)
Current Version ID: 1a2b3c4d-0000-4000-8000-000000000000
"""


@pytest.mark.parametrize(
    ("output", "url", "workers_dev"),
    [
        (WRANGLER_4, "https://loopsy-relay.alice-example.workers.dev", True),
        (WRANGLER_3, "https://my-relay.bob.workers.dev", True),
        (WRANGLER_CUSTOM_DOMAIN, "https://relay.example.com", True),
        (WRANGLER_DOMAIN_ONLY, "https://relay.example.org", False),
    ],
)
def test_url_from_wrangler_output(output: str, url: str, workers_dev: bool) -> None:
    deployed = parse_deploy_output(output)
    assert deployed is not None and deployed.url == url
    assert (deployed.workers_dev is not None) is workers_dev


def test_no_url_in_output() -> None:
    assert parse_deploy_output("No deploy targets for loopsy-relay (0.12 sec)\n") is None


def test_secret_names_tolerate_log_lines() -> None:
    listing = '\u26c5 wrangler 4.86.0\n[{"name":"PAIR_TOKEN_SECRET","type":"secret_text"}]\n'
    assert secret_names(listing) == {"PAIR_TOKEN_SECRET"}
    assert secret_names("[]") == set() and secret_names("garbage") == set()


@pytest.mark.parametrize(
    ("output", "message", "hint"),
    [
        ("You are not authenticated. Please run `wrangler login`.", "not logged in",
         "npx wrangler login"),
        ("it's necessary to set a CLOUDFLARE_API_TOKEN environment variable", "not logged in",
         "npx wrangler login"),
        ("You need to register a workers.dev subdomain before publishing to workers.dev",
         "workers.dev subdomain", "dashboard"),
        ("Hostname 'relay.example.com' already has externally managed DNS records",
         "taken", "--domain"),
        ("fetch failed\n getaddrinfo ENOTFOUND api.cloudflare.com", "could not reach",
         "internet connection"),
        ("\u2718 [ERROR] something new\nline two", "something new", "whoami"),
    ],
)  # fmt: skip
def test_failures_are_explained(output: str, message: str, hint: str) -> None:
    problem = explain_failure("wrangler deploy", output)
    assert message in problem.message and hint in (problem.hint or "")


def test_wrangler_is_found_in_relay_then_on_path(tmp_path: Path) -> None:
    bare = tmp_path / "relay"
    (bare / "node_modules" / ".bin").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    assert find_wrangler(bare, {"PATH": str(bin_dir)}) is None
    on_path = bin_dir / "wrangler"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    found = find_wrangler(bare, {"PATH": str(bin_dir)})
    assert found is not None and found.command == (str(on_path),) and found.source == "PATH"
    pinned = bare / "node_modules" / ".bin" / "wrangler"
    pinned.write_text("#!/bin/sh\n")
    pinned.chmod(0o755)
    found = find_wrangler(bare, {"PATH": str(bin_dir)})
    assert found is not None and found.source == "relay/node_modules"


def test_missing_wrangler_says_how_to_install(cli: Cli, tmp_path: Path) -> None:
    cli.env["LOOPSY_WRANGLER"] = str(tmp_path / "no-such-wrangler")
    done = cli("relay", "deploy", "--yes", "--name", "x-relay", "--wait", "0", check=False)
    assert done.returncode == 1
    assert "cannot run" in done.stderr and "npm ci" in done.stderr


class FakeWrangler:
    def __init__(self, cli: Cli, tmp_path: Path) -> None:
        self.log = tmp_path / "calls.jsonl"
        self.state = tmp_path / "state.json"
        cli.env.update(
            LOOPSY_WRANGLER=str(FAKE),
            FAKE_WRANGLER_LOG=str(self.log),
            FAKE_WRANGLER_STATE=str(self.state),
        )

    def calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def secret(self, worker: str, key: str = "PAIR_TOKEN_SECRET") -> str:
        value: str = json.loads(self.state.read_text())[worker][key]
        return value


@pytest.fixture
def fake(cli: Cli, tmp_path: Path) -> FakeWrangler:
    return FakeWrangler(cli, tmp_path)


def deploy(cli: Cli, *extra: str, check: bool = True) -> Any:
    done = cli("relay", "deploy", "--yes", "--wait", "0", "--json", *extra, check=check)
    return json.loads(done.stdout) if check else done


def test_deploy_keeps_the_secret_out_of_argv_and_env(cli: Cli, fake: FakeWrangler) -> None:
    result = deploy(cli, "--name", "my-relay", "--domain", "relay.example.com")
    assert result["url"] == "https://relay.example.com"
    assert result["workers_dev_url"] == "https://my-relay.alice-example.workers.dev"
    assert result["secret"] == "new" and result["configured"] is True
    secret = fake.secret("my-relay")
    assert len(secret) >= 43
    calls = fake.calls()
    assert [c["argv"][:2] for c in calls] == [
        ["deploy", "--name"], ["secret", "list"], ["secret", "put"],
    ]  # fmt: skip
    assert calls[0]["argv"][:5] == ["deploy", "--name", "my-relay", "--domain", "relay.example.com"]
    assert calls[2]["argv"] == ["secret", "put", "PAIR_TOKEN_SECRET", "--name", "my-relay"]
    assert calls[2]["stdin"].strip() == secret
    for call in calls:
        assert Path(call["cwd"]) == WORKER_DIR
        assert all(secret not in arg for arg in call["argv"])
        assert all(secret not in value for value in call["env"].values())
        assert call["env"]["WRANGLER_SEND_METRICS"] == "false"
    saved = cli.home.relay_file
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    record = json.loads(saved.read_text())
    assert record["url"] == "https://relay.example.com" and record["worker"] == "my-relay"
    assert secret not in saved.read_text()
    config = (cli.home.root / "config.yaml").read_text()
    assert "https://relay.example.com" in config and secret not in config


def test_redeploy_keeps_the_secret_and_rotate_changes_it(cli: Cli, fake: FakeWrangler) -> None:
    deploy(cli, "--name", "my-relay", "--no-configure")
    first = fake.secret("my-relay")
    again = deploy(cli, "--no-configure")  # the saved worker name is the default
    assert again["worker"] == "my-relay" and again["secret"] == "kept"
    assert fake.secret("my-relay") == first
    assert [c["argv"][:2] for c in fake.calls()].count(["secret", "put"]) == 1
    deploys = [c["argv"][0] for c in fake.calls()].count("deploy")
    # Asked before anything is deployed; not a terminal and no --yes: the answer is no.
    refused = cli("relay", "deploy", "--wait", "0", "--no-configure", "--rotate-secret",
                  check=False)  # fmt: skip
    assert refused.returncode == 1 and "nothing was deployed" in refused.stderr
    assert [c["argv"][0] for c in fake.calls()].count("deploy") == deploys
    assert fake.secret("my-relay") == first
    rotated = deploy(cli, "--no-configure", "--rotate-secret")
    assert rotated["secret"] == "rotated" and fake.secret("my-relay") != first


def test_lock_registration_gives_the_daemon_the_registration_secret(
    cli: Cli, fake: FakeWrangler
) -> None:
    deploy(cli, "--name", "locked-relay", "--lock-registration")
    registration = fake.secret("locked-relay", "REGISTRATION_SECRET")
    assert registration != fake.secret("locked-relay")
    assert registration in (cli.home.root / "config.yaml").read_text()
    assert all(registration not in " ".join(c["argv"]) for c in fake.calls())


@pytest.mark.parametrize(
    ("fail", "expected", "hint"),
    [
        ("login", "not logged in", "npx wrangler login"),
        ("taken", "taken", "--domain"),
        ("network", "could not reach Cloudflare", "internet"),
    ],
)
def test_deploy_failures_are_clear(
    cli: Cli, fake: FakeWrangler, fail: str, expected: str, hint: str
) -> None:
    cli.env["FAKE_WRANGLER_FAIL"] = fail
    done = deploy(cli, "--name", "my-relay", "--domain", "relay.example.com", check=False)
    assert done.returncode == 1
    assert "loopsy: error: wrangler deploy failed: " in done.stderr and expected in done.stderr
    assert hint in done.stderr
    assert not cli.home.relay_file.exists()


def on_terminal(cli: Cli, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    """``loopsy`` as a user runs it in a terminal (stdin and stderr a pseudo-terminal);
    its exit code, stdout (a pipe, for --json) and what the terminal showed."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopsy", *args], env=cli.env, stdin=slave,
        stdout=subprocess.PIPE, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    shown = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            assert ready, f"no output for {timeout}s; so far: {shown!r}"
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            shown += data
    finally:
        os.close(master)
    assert proc.stdout is not None
    with proc.stdout:
        stdout = proc.stdout.read().decode()
    return proc.wait(timeout=timeout), stdout, shown.decode(errors="replace")


def test_on_a_terminal_wrangler_gets_one_and_logs_in(cli: Cli, fake: FakeWrangler) -> None:
    # wrangler logs in (and asks before taking over a domain in use) only when its stdin and
    # stdout are terminals; piped, it says "non-interactive environment" and gives up.
    cli.env["FAKE_WRANGLER_FAIL"] = "login"
    code, stdout, shown = on_terminal(
        cli, "relay", "deploy", "--yes", "--name", "my-relay", "--wait", "0", "--json"
    )
    assert code == 0, shown
    assert "Opening a link in your default browser" in shown and "Successfully logged in" in shown
    result = json.loads(stdout)
    assert result["url"] == "https://my-relay.alice-example.workers.dev"
    assert result["secret"] == "new" and result["configured"] is True
    calls = fake.calls()
    assert [(c["argv"][0], c["interactive"]) for c in calls] == [
        ("deploy", True), ("secret", False), ("secret", False),
    ]  # fmt: skip
    secret = fake.secret("my-relay")
    assert calls[2]["stdin"].strip() == secret and secret not in shown


def test_piped_wrangler_output_names_its_urls_through_terminal_codes() -> None:
    painted = "\x1b[?25l\x1b[2K\x1b[1G" + WRANGLER_CUSTOM_DOMAIN.replace("\n", "\r\n")
    deployed = parse_deploy_output(painted.replace("\r\n", "\n"))
    assert deployed == Deployed(
        "https://relay.example.com",
        "https://loopsy-relay.alice-example.workers.dev",
        ("relay.example.com",),
    )


def test_without_a_config_nothing_is_deployed(cli: Cli, fake: FakeWrangler) -> None:
    (cli.home.root / "config.yaml").unlink()
    done = deploy(cli, "--name", "my-relay", check=False)
    assert done.returncode == 1 and "loopsy init" in done.stderr and "--no-configure" in done.stderr
    assert not fake.log.exists() and not cli.home.relay_file.exists()
    assert deploy(cli, "--name", "my-relay", "--no-configure")["configured"] is False


def test_lock_registration_needs_the_daemon_to_keep_its_secret(
    cli: Cli, fake: FakeWrangler
) -> None:
    done = deploy(cli, "--name", "my-relay", "--lock-registration", "--no-configure", check=False)
    assert done.returncode == 1 and "--no-configure" in done.stderr
    assert not fake.log.exists()


@pytest.mark.parametrize("name", ["Bad_Name", "-x", "a" * 64])
def test_bad_worker_names_are_refused(cli: Cli, fake: FakeWrangler, name: str) -> None:
    done = deploy(cli, f"--name={name}", check=False)
    assert done.returncode == 1 and "is not a worker name" in done.stderr
    assert not fake.log.exists()


@pytest.mark.slow
def test_dry_run_builds_the_bundle_offline(cli: Cli, tmp_path: Path) -> None:
    cli.env.pop("LOOPSY_WRANGLER", None)
    outdir = tmp_path / "bundle"
    done = cli("relay", "deploy", "--dry-run", "--yes", "--name", "ci-relay",
               "--outdir", str(outdir), "--json", timeout=180)  # fmt: skip
    assert json.loads(done.stdout) == {"dry_run": True, "worker": "ci-relay", "outdir": str(outdir)}
    bundle = (outdir / "index.js").read_text()
    for name in ("DeviceRelay", "PairIndex", "RateLimiter", "loopsy.relay.1"):
        assert name in bundle
    assert "PAIR_TOKEN_SECRET" in bundle and os.environ.get("PAIR_TOKEN_SECRET") is None


def test_npx_fallback_uses_the_pinned_wrangler() -> None:
    from loopsy.cli.wrangler import pinned_wrangler

    package = json.loads((WORKER_DIR / "package.json").read_text())
    assert pinned_wrangler(WORKER_DIR) == package["devDependencies"]["wrangler"] == "4.86.0"
