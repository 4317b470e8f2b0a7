"""The daemon events the dashboard follows instead of polling: inbox, peers, phones, the
relay link, and clients attaching to a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.daemon.services import Services
from loopsy.mesh.registry import Health

pytestmark = pytest.mark.anyio


async def next_event(events: AsyncIterator[dict[str, Any]], topic: str) -> dict[str, Any]:
    with anyio.fail_after(10):
        async for event in events:
            if event["topic"] == topic:
                return event
    raise AssertionError(f"the stream ended before a {topic} event")


async def test_changes_are_published(daemon: Services, client: LoopsyClient) -> None:
    events = client.events.stream()
    assert (await anext(events))["type"] == "events.subscribed"

    me = daemon.config.current.node.id
    await client.messages.send(me, "hello", id="m-1")
    event = await next_event(events, "messages")
    assert (event["type"], event["data"]) == ("message.received", {"id": "m-1"})
    await client.messages.ack("m-1")
    assert (await next_event(events, "messages"))["type"] == "message.acked"

    assert daemon.mesh is not None
    daemon.mesh.registry.note_seen(
        node_id="f" * 32, name="desk", host="127.0.0.1", port=1, cert_fingerprint="00",
        version="0.1.0", capabilities=[], source="manual",
    )
    assert (await next_event(events, "peers"))["type"] == "peer.seen"
    daemon.mesh.registry.set_health("f" * 32, Health("offline", last_error="unreachable"))
    assert (await next_event(events, "peers"))["type"] == "peer.health"
    await client.peers.remove("desk")
    event = await next_event(events, "peers")
    assert (event["type"], event["data"]) == ("peer.removed", {"id": "f" * 32})

    assert daemon.relay_link is not None
    daemon.relay_link.registry.add("ph-1", "Pixel", b"k" * 32, "dev-1")
    event = await next_event(events, "phones")
    assert (event["type"], event["data"]) == ("phone.paired", {"phone_id": "ph-1"})
    assert daemon.relay_link.registry.remove("ph-1", None)
    assert (await next_event(events, "phones"))["type"] == "phone.revoked"

    info = await client.sessions.create(argv=["sh"], cwd="/tmp", name="watched")
    async with client.sessions.attach(info.id) as attachment:
        await attachment.recv()
        while True:
            event = await next_event(events, "sessions")
            if event["type"] == "session.updated" and event["data"]["attached"] == 1:
                break
    while True:
        event = await next_event(events, "sessions")
        if event["type"] == "session.updated" and event["data"]["attached"] == 0:
            break
    await events.aclose()
