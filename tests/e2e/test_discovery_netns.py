"""mDNS discovery between two network namespaces joined by a veth pair that this test
creates (root and iproute2 needed; skipped with the reason otherwise). Two real daemons
started with --lan find each other, then pair over the discovered address."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopsy.config import load_config, save_config
from loopsy.home import LoopsyHome
from tests.conftest import Cli
from tests.e2e.mesh_processes import Interactive, confirm_code, mesh_home

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNET = "10.231.77"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)


def _why_not() -> str | None:
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed (scripts/setup installs it)"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"lp-{secrets.token_hex(3)}"
    made = _ip("netns", "add", probe)
    if made.returncode != 0:
        return f"`ip netns add` is not permitted here: {made.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    ns = (f"lpa-{tag}", f"lpb-{tag}")
    veth = (f"va{tag}", f"vb{tag}")
    try:
        for name in ns:
            assert _ip("netns", "add", name).returncode == 0
            assert _ip("-n", name, "link", "set", "lo", "up").returncode == 0
        made = _ip(
            "link",
            "add",
            veth[0],
            "netns",
            ns[0],
            "type",
            "veth",
            "peer",
            "name",
            veth[1],
            "netns",
            ns[1],
        )
        assert made.returncode == 0, made.stderr
        for index, (name, dev) in enumerate(zip(ns, veth, strict=True), start=1):
            assert (
                _ip("-n", name, "addr", "add", f"{SUBNET}.{index}/24", "dev", dev).returncode == 0
            )
            assert _ip("-n", name, "link", "set", dev, "up", "multicast", "on").returncode == 0
        yield ns
    finally:
        for name in ns:  # deleting a namespace deletes its end of the veth too
            _ip("netns", "del", name)


class NsCli(Cli):
    """`loopsy` run inside a network namespace, so its daemon and its peer calls live
    there; the unix socket is on the shared filesystem either way."""

    def __init__(self, home: LoopsyHome, namespace: str) -> None:
        super().__init__(home)
        self.namespace = namespace

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["ip", "netns", "exec", self.namespace, sys.executable, "-m", "loopsy", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"loopsy {' '.join(args)}: {result.stdout}{result.stderr}")
        return result


def lan_home(root: Path, name: str) -> LoopsyHome:
    home = mesh_home(root, name)
    config = load_config(home)
    config.mesh.listen = False  # on because of --lan
    config.mesh.host = "0.0.0.0"  # every interface of the namespace
    save_config(home, config)
    return home


def wait_for_peer(cli: Cli, name: str, timeout: float = 45) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    peers: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        peers = json.loads(cli("peers", "list", "--cached", "--json").stdout)
        for peer in peers:
            if peer["name"] == name:
                return peer
        time.sleep(0.3)  # across processes there is no event to wait on; bounded by timeout
    raise AssertionError(f"{name} not discovered in {timeout} s; peers: {peers}")


def test_two_namespaces_discover_and_pair(namespaces: tuple[str, str]) -> None:
    root = Path(tempfile.mkdtemp(prefix="ln-", dir="/tmp"))
    a = NsCli(lan_home(root, "alpha"), namespaces[0])
    b = NsCli(lan_home(root, "beta"), namespaces[1])
    try:
        a("start", "--lan", "--port", "0")
        b("start", "--lan", "--port", "0")
        seen = wait_for_peer(a, "beta")
        assert seen["source"] == "mdns" and not seen["paired"]
        assert seen["host"] == f"{SUBNET}.2" and seen["status"] in ("online", "unknown")
        assert "execute" in seen["capabilities"]  # type: ignore[operator]
        back = wait_for_peer(b, "alpha")
        assert back["host"] == f"{SUBNET}.1"

        waiting = Interactive(b, "pair", "--timeout", "60")
        waiting.expect("loopsy pair ")  # the window is open
        joining = Interactive(a, "pair", f"{seen['host']}:{seen['port']}")
        try:
            confirm_code(waiting, joining)
        finally:
            waiting.kill()
            joining.kill()
        (peer,) = json.loads(a("peers", "list", "--json").stdout)
        assert (peer["name"], peer["paired"], peer["status"]) == ("beta", True, "online")
        a("context", "set", "across", "namespaces", "--peer", "beta")
        assert b("context", "get", "across").stdout.strip().endswith("namespaces")
    finally:
        for cli in (a, b):
            cli("stop", check=False)
        shutil.rmtree(root, ignore_errors=True)
