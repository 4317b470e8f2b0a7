"""`loopsy up` as a new user runs it: daemon + local relay + a pairing offer, then the
phone commands, as real processes."""

from __future__ import annotations

import json
import socket

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.client.phone import PhoneIdentity, pair_phone
from loopsy.client.tunnel import TunnelConnection
from tests.conftest import Cli

pytestmark = [pytest.mark.e2e]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_pair_list_revoke_down(cli: Cli) -> None:
    port = free_port()
    try:
        up = json.loads(cli("up", "--relay-port", str(port), "--port", "0", "--json").stdout)
        assert up["relay"] == f"http://127.0.0.1:{port}"
        offer = up["pair"]
        assert offer["url"].startswith(f"http://127.0.0.1:{port}/app#pair=1.")
        assert offer["code"] not in offer["url"]

        status = json.loads(cli("relay", "status", "--json").stdout)
        assert status["connected"] is True and status["device_id"] == up["device_id"]

        async def use_phone() -> PhoneIdentity:
            identity = await pair_phone(offer["url"], offer["code"], name="cli phone")
            async with LoopsyClient(TunnelConnection(identity)) as phone:
                assert (await phone.status()).pid > 0
            return identity

        identity = anyio.run(use_phone)
        phone_id = identity.phone_id

        # The daemon restarts: same pinned keys, same relay device, the phone comes back.
        old_pid = json.loads(cli("status", "--json").stdout)["pid"]
        cli("stop")
        cli("start", "--port", "0")

        async def phone_again() -> int:
            async with LoopsyClient(TunnelConnection(identity)) as phone:
                return (await phone.status()).pid

        assert anyio.run(phone_again) not in (0, old_pid)
        listed = json.loads(cli("phone", "list", "--json").stdout)
        assert [(p["phone_id"], p["name"]) for p in listed] == [(phone_id, "cli phone")]
        human = cli("phone", "list").stdout
        assert phone_id in human and "cli phone" in human

        again = cli("up", "--relay-port", str(port), "--port", "0").stdout  # idempotent
        assert "Then type this code on the phone" in again and "#pair=1." in again

        revoked = cli("phone", "revoke", phone_id)
        assert phone_id in revoked.stdout
        assert json.loads(cli("phone", "list", "--json").stdout) == []
        missing = cli("phone", "revoke", phone_id, check=False)
        assert missing.returncode == 1 and "phone list" in missing.stderr

        offer2 = json.loads(cli("mobile", "pair", "--json", "--ttl", "60").stdout)
        assert offer2["pair_id"] != offer["pair_id"] and len(offer2["code"]) == 6
    finally:
        cli("down", check=False)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_pair_without_a_relay_is_a_clear_error(cli: Cli) -> None:
    cli("start", "--port", "0")
    result = cli("mobile", "pair", "--json", check=False)
    assert result.returncode == 1
    assert "no relay configured" in result.stderr and "loopsy relay configure" in result.stderr
    status = cli("relay", "status", check=False)
    assert status.returncode == 3 and "No relay configured" in status.stdout


def test_relay_configure_while_stopped_edits_config(cli: Cli) -> None:
    result = cli("relay", "configure", "http://127.0.0.1:9/", "--json")
    assert json.loads(result.stdout) == {"url": "http://127.0.0.1:9", "daemon_running": False}
    bad = cli("relay", "configure", "ftp://x", check=False)
    assert bad.returncode == 1 and "relay.url" in bad.stderr


def test_after_up_and_a_session_doctor_is_green_and_home_private(cli: Cli) -> None:
    """What a new user sees right after the README's first command: every file the
    daemon, the local relay and the session fork server made is private, so doctor has
    nothing to fail on (an MCP warning is not a failure)."""
    import stat

    port = free_port()
    try:
        cli("up", "--relay-port", str(port), "--port", "0", "--no-pair")
        cli("session", "new", "--name", "check", "--", "sh", "-c", "echo hi; sleep 60")
        loose = [
            f"{path} ({stat.S_IMODE(path.stat().st_mode):o})"
            for path in cli.home.root.rglob("*")
            if not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) & 0o077
        ]
        assert loose == []
        doctor = cli("doctor", "--json", check=False)
        assert doctor.returncode == 0, doctor.stdout
    finally:
        cli("down", check=False)


def test_relay_port_zero_is_refused_clearly(cli: Cli) -> None:
    result = cli("up", "--relay-port", "0", "--port", "0", "--no-pair", check=False)
    assert result.returncode == 1
    assert "--relay-port must be 1..65535" in result.stderr
