"""``/audit`` and the live tail over real sockets."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.daemon.services import Services
from loopsy.protocol.audit import AuditDroppedMessage, AuditRecord
from loopsy.protocol.errors import NotFound, ValidationFailed

pytestmark = pytest.mark.anyio


async def make_traffic(client: LoopsyClient) -> None:
    await client.status()
    with pytest.raises(NotFound):
        await client.context.get("missing")


async def test_recent_with_filters(client: LoopsyClient, tcp_client: LoopsyClient) -> None:
    await make_traffic(client)
    await tcp_client.status()
    records = await client.audit.recent(limit=50)
    paths = [(r.caller, r.path, r.status) for r in records]
    assert ("local:local", "/api/v1/status", 200) in paths
    assert ("local:local", "/api/v1/context/missing", 404) in paths
    assert ("key:api", "/api/v1/status", 200) in paths
    failures = await client.audit.recent(min_status=400)
    assert [r.path for r in failures] == ["/api/v1/context/missing"]
    keyed = await client.audit.recent(caller="key:api")
    assert {r.caller for r in keyed} == {"key:api"}
    last = await client.audit.recent(limit=1)
    assert len(last) == 1 and last[0].path == "/api/v1/audit"  # the query before this one
    assert all(r.ts <= b.ts for r, b in itertools.pairwise(records))


async def test_reading_across_rotated_files(client: LoopsyClient, daemon: Services) -> None:
    daemon.audit.max_bytes = 2000  # rotate every dozen records or so
    for i in range(60):
        await client.context.set(f"k{i}", "v") if i < 50 else await client.status()
    daemon.audit.max_bytes = 10 << 20
    assert daemon.home.audit_log.with_name("audit.jsonl.1").exists()
    puts = await client.audit.recent(limit=1000, method="PUT")
    kept = [int(r.path.rsplit("k", 1)[1]) for r in puts if r.path]
    assert kept == list(range(kept[0], 50))  # a contiguous tail, in order
    assert len(kept) > 12


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=10001", "limit=x", "min_status=99", "since=yesterday", "bogus=1"],
)
async def test_bad_queries(daemon: Services, query: str) -> None:
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.home.socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        response = await http.get(f"/api/v1/audit?{query}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


async def next_record(
    stream: AsyncIterator[AuditRecord | AuditDroppedMessage],
) -> AuditRecord | AuditDroppedMessage:
    with anyio.fail_after(10):
        return await anext(stream)


async def test_follow_sends_backlog_then_live(client: LoopsyClient, daemon: Services) -> None:
    await client.context.set("before", "v")
    stream = client.audit.follow(backlog=1, method="PUT")
    first = await next_record(stream)
    assert isinstance(first, AuditRecord) and first.path == "/api/v1/context/before"
    await client.status()  # filtered out: not a PUT
    await client.context.set("after", "v")
    second = await next_record(stream)
    assert isinstance(second, AuditRecord) and second.path == "/api/v1/context/after"
    daemon.audit.event("local:local", "test.event", detail="kept")
    await client.context.set("third", "v")
    third = await next_record(stream)
    assert isinstance(third, AuditRecord) and third.path == "/api/v1/context/third"
    await stream.aclose()  # type: ignore[attr-defined]


async def subscribed(
    stream: AsyncIterator[AuditRecord | AuditDroppedMessage], daemon: Services, event: str
) -> AuditRecord:
    """Open the tail and return once it is live: the subscription exists only after the
    WebSocket is accepted, so probe events (``probe=True``) are written until one arrives."""
    seen = anyio.Event()

    async def probe() -> None:
        for _ in range(200):
            daemon.audit.event("local:local", event, probe=True)
            with anyio.move_on_after(0.05):
                await seen.wait()
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(probe)
        first = await next_record(stream)
        seen.set()
    assert isinstance(first, AuditRecord)
    return first


async def test_follow_events_keep_their_fields(client: LoopsyClient, daemon: Services) -> None:
    stream = client.audit.follow(event="key.rotated")
    record = await subscribed(stream, daemon, "key.rotated")
    assert record.event == "key.rotated" and record.model_extra == {"probe": True}
    await stream.aclose()  # type: ignore[attr-defined]


async def test_slow_reader_gets_a_dropped_count_not_unbounded_memory(
    client: LoopsyClient, daemon: Services
) -> None:
    from loopsy.daemon.routes.audit import QUEUE

    stream = client.audit.follow(event="flood")
    await subscribed(stream, daemon, "flood")
    # Written in one go on the daemon's own event loop: the tail cannot drain meanwhile.
    for n in range(QUEUE + 500):
        daemon.audit.event("local:local", "flood", n=n)
    seen: list[int] = []
    dropped = 0
    # Every record is either delivered or counted as dropped: nothing vanishes silently.
    for _ in range(3 * QUEUE):
        if len(seen) + dropped == QUEUE + 500:
            break
        item = await next_record(stream)
        if isinstance(item, AuditDroppedMessage):
            dropped += item.count
        elif "n" in (item.model_extra or {}):
            seen.append(item.model_extra["n"])  # type: ignore[index]
    assert len(seen) + dropped == QUEUE + 500
    assert 400 <= dropped <= 500  # the queue held about QUEUE; the rest were counted
    assert seen == list(range(len(seen)))
    await stream.aclose()  # type: ignore[attr-defined]


async def test_follow_bad_query_is_a_clear_error(client: LoopsyClient) -> None:
    with pytest.raises(ValidationFailed) as info:
        await next_record(client.audit.follow(backlog=5000))
    assert "backlog" in info.value.message


async def test_follow_over_tcp_with_key(tcp_client: LoopsyClient, client: LoopsyClient) -> None:
    stream = tcp_client.audit.follow(backlog=1, path="/api/v1/status")
    await client.status()
    record = await next_record(stream)
    assert isinstance(record, AuditRecord) and record.path == "/api/v1/status"
    await stream.aclose()  # type: ignore[attr-defined]


async def test_audit_never_holds_secrets_or_bodies(
    client: LoopsyClient, daemon: Services
) -> None:
    await client.context.set("secret-key-name", "s3cr3t-value")
    records = await client.audit.recent(limit=100)
    text = daemon.home.audit_log.read_text()
    assert "s3cr3t-value" not in text
    assert daemon.config.current.auth.api_key not in text
    assert any(r.path == "/api/v1/context/secret-key-name" for r in records)
