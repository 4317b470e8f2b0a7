"""mDNS record building and parsing: what a node announces and how hostile records read."""

from __future__ import annotations

import pytest

from loopsy.mesh.discovery import SERVICE_TYPE, instance_name, lan_addresses, parse_txt, txt_record
from loopsy.protocol.peers import NodeHello

HELLO = NodeHello(
    node_id="0123456789abcdef0123456789abcdef",
    name="Kai's Mac Studio",
    version="0.1.0",
    capabilities=["execute", "sessions"],
    fingerprint="ab" * 32,
)


def test_instance_name_is_a_safe_label_with_the_id() -> None:
    name = instance_name(HELLO)
    assert name == f"Kai-s-Mac-Studio-0123456789ab.{SERVICE_TYPE}"
    long = HELLO.model_copy(update={"name": "x" * 63})
    assert len(instance_name(long).split(".")[0]) <= 63


def test_txt_round_trip() -> None:
    encoded = {k.encode(): v.encode() for k, v in txt_record(HELLO).items()}
    assert parse_txt(encoded) == {
        "id": HELLO.node_id,
        "name": HELLO.name,
        "version": "0.1.0",
        "caps": "execute,sessions",
        "fp": "ab" * 32,
    }


def test_hostile_txt_values_are_dropped_not_fatal() -> None:
    assert parse_txt({b"id": b"\xff\xfe", b"name": None, b"fp": b"ok"}) == {"fp": "ok"}


def test_announced_addresses() -> None:
    assert lan_addresses("10.0.0.7") == ["10.0.0.7"]
    found = lan_addresses("0.0.0.0")
    assert (found and all(not a.startswith("127.") for a in found)) or found == ["127.0.0.1"]


@pytest.mark.anyio
async def test_discovery_that_cannot_start_leaves_the_daemon_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from loopsy.mesh import discovery

    class NoMulticast:
        def __init__(self, **kwargs: object) -> None:
            raise OSError("no multicast here")

    monkeypatch.setattr(discovery, "AsyncZeroconf", NoMulticast)
    found = discovery.Discovery(
        registry=None,  # type: ignore[arg-type]
        hello=lambda: HELLO,
        port=lambda: 19533,
        bind_host=lambda: "127.0.0.1",
    )
    await found.run()  # returns instead of taking the daemon's task group down
    assert "mDNS discovery is off: no multicast here" in caplog.text
