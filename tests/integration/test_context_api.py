"""``/context`` over real sockets: the client round trip, and hostile input of every kind
leaving the stored data as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.config import Config
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed

pytestmark = pytest.mark.anyio


@pytest.fixture
def roomy(daemon: Services) -> Services:
    """The daemon with rate limits out of the way (their own tests are elsewhere)."""

    def raise_limits(config: Config) -> Config:
        config.rate_limits.context = 100_000
        return config

    daemon.config.update(raise_limits)
    return daemon


@pytest.fixture
async def raw(roomy: Services) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP on the unix socket, to send what no well-behaved client would."""
    transport = httpx.AsyncHTTPTransport(uds=str(roomy.home.socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost/api/v1") as c:
        yield c


SENTINELS = {"keep:a": "alpha", "keep:b": "beta\nwith newline"}


async def seed(client: LoopsyClient) -> None:
    for key, value in SENTINELS.items():
        await client.context.set(key, value)


async def assert_intact(client: LoopsyClient) -> None:
    page = await client.context.list()
    assert {e.key: e.value for e in page.entries} == SENTINELS


async def test_round_trip_with_awkward_keys(client: LoopsyClient, roomy: Services) -> None:
    keys = ["inbox:b:1", "a/b/c", "..", ".", "../../etc/passwd", "sp ace", "%2F", "?q=1#f", "☃",
            "\ufffd"]  # (U+FFFD itself is a fine key; bytes that are not UTF-8 are not)
    for i, key in enumerate(keys):
        entry = await client.context.set(key, f"value {i}")
        assert entry.key == key
    for i, key in enumerate(keys):
        assert (await client.context.get(key)).value == f"value {i}"
    listed = [e.key for e in (await client.context.list(limit=100)).entries]
    assert listed == sorted(keys, key=lambda k: k.encode())
    await client.context.delete("..")
    with pytest.raises(NotFound):
        await client.context.get("..")
    assert (await client.context.get(".")).value == "value 3"


async def test_conditions_over_the_api(client: LoopsyClient, roomy: Services) -> None:
    first = await client.context.set("msg:1", "hello", if_absent=True)
    with pytest.raises(Conflict) as info:
        await client.context.set("msg:1", "dup", if_absent=True)
    assert info.value.details["version"] == first.version
    second = await client.context.set("msg:1", "edited", if_version=first.version)
    with pytest.raises(Conflict):
        await client.context.set("msg:1", "stale", if_version=first.version)
    with pytest.raises(Conflict):
        await client.context.delete("msg:1", if_version=first.version)
    await client.context.delete("msg:1", if_version=second.version)
    with pytest.raises(NotFound):
        await client.context.delete("msg:1")


async def test_ttl_over_the_api(client: LoopsyClient, roomy: Services) -> None:
    entry = await client.context.set("t", "v", ttl=30)
    assert entry.expires_at == pytest.approx(entry.updated_at + 30)
    # Move the daemon's clock instead of waiting: the store reads it on every call.
    roomy.context.clock = lambda: entry.updated_at + 31
    with pytest.raises(NotFound):
        await client.context.get("t")
    assert (await client.context.list()).entries == []


async def test_pages_and_iteration(client: LoopsyClient, roomy: Services) -> None:
    for i in range(25):
        await client.context.set(f"p:{i:03}", str(i))
    await client.context.set("q:0", "other prefix")
    page = await client.context.list("p:", limit=10)
    assert len(page.entries) == 10 and page.next_after == "p:009"
    every = [e.key async for e in client.context.iterate("p:", page=7)]
    assert every == [f"p:{i:03}" for i in range(25)]


async def test_tcp_caller_uses_the_same_store(
    client: LoopsyClient, tcp_client: LoopsyClient, roomy: Services
) -> None:
    await tcp_client.context.set("shared", "from tcp")
    assert (await client.context.get("shared")).value == "from tcp"


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "words"),
    [
        ("PUT", "/context/k", b"{not json", 400, "not valid JSON"),
        ("PUT", "/context/k", b'{"value": 5}', 422, "value"),
        ("PUT", "/context/k", b'{"value": "v", "ttl": "10"}', 422, "ttl"),
        ("PUT", "/context/k", b'{"value": "v", "ttl": -1}', 422, "ttl"),
        ("PUT", "/context/k", b'{"value": "v", "ttl": 1e30}', 422, "ttl"),
        ("PUT", "/context/k", b'{"value": "v", "if_absent": "yes"}', 422, "if_absent"),
        ("PUT", "/context/k", b'{"value": "v", "if_version": 0}', 422, "if_version"),
        ("PUT", "/context/k", b'{"value": "v", "extra": 1}', 422, "extra"),
        ("PUT", "/context/k", b'{"value": "v", "if_absent": true, "if_version": 3}', 422,
         "cannot be combined"),
        ("PUT", "/context/k", b"[]", 422, "invalid request"),
        ("PUT", "/context/k", b'{"value": "\\ud800"}', 400, "not valid JSON"),
        ("PUT", "/context/k", b"", 422, "value"),
        ("PUT", "/context/", b'{"value": "v"}', 422, "key must not be empty"),
        ("PUT", "/context/a%00b", b'{"value": "v"}', 422, "control character"),
        ("PUT", "/context/a%0Ab", b'{"value": "v"}', 404, "no such route"),
        ("PUT", "/context/" + "k" * 600, b'{"value": "v"}', 422, "key length limit"),
        ("GET", "/context/a%00b", None, 422, "control character"),
        ("PUT", "/context/a%FFb", b'{"value": "v"}', 422, "not valid UTF-8"),
        ("GET", "/context/a%C3b", None, 422, "not valid UTF-8"),
        ("DELETE", "/context/a%FE", None, 422, "not valid UTF-8"),
        ("GET", "/context?limit=0", None, 422, "limit"),
        ("GET", "/context?limit=abc", None, 422, "limit"),
        ("GET", "/context?limit=5000", None, 422, "limit"),
        ("GET", "/context?prefix=a%00", None, 422, "control character"),
        ("GET", "/context?bogus=1", None, 422, "bogus"),
        ("DELETE", "/context/keep:a?if_version=abc", None, 422, "if_version"),
        ("DELETE", "/context/keep:a?if_version=1&if_version=2", None, 422, "if_version"),
        ("POST", "/context/k", b'{"value": "v"}', 405, "not allowed"),
    ],
)
async def test_hostile_requests_get_clear_errors_and_change_nothing(
    client: LoopsyClient,
    raw: httpx.AsyncClient,
    method: str,
    url: str,
    body: bytes | None,
    status: int,
    words: str,
) -> None:
    await seed(client)
    response = await raw.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert words in error["message"] or words in str(error.get("details")), error
    await assert_intact(client)


async def test_oversize_bodies_are_refused(client: LoopsyClient, raw: httpx.AsyncClient) -> None:
    await seed(client)
    with pytest.raises(PayloadTooLarge) as info:
        await client.context.set("big", "x" * ((1 << 20) + 1))
    assert "value size limit" in info.value.message
    huge = b'{"value": "' + b"x" * (9 << 20) + b'"}'
    response = await raw.put("/context/big", content=huge)
    assert response.status_code == 413
    for declared in (b"99999999999", b"12abc"):
        status = await raw_status(
            client,
            b"PUT /api/v1/context/big HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
            + declared
            + b'\r\n\r\n{"value": "v"}',
        )
        assert status in (b"400", b"413")
    await assert_intact(client)
    # Exactly at the limit is fine, and multi-byte characters count as bytes.
    await client.context.set("big", "é" * (1 << 19))
    with pytest.raises(PayloadTooLarge):
        await client.context.set("big", "é" * (1 << 19) + "x")
    assert len((await client.context.get("big")).value) == 1 << 19


async def raw_status(client: LoopsyClient, request: bytes) -> bytes:
    """Send bytes no HTTP library would, on the unix socket; the answer's status code."""
    import anyio

    async with await anyio.connect_unix(str(client.connection.description)) as stream:
        await stream.send(request)
        with anyio.fail_after(10):
            head = await stream.receive()
    return head.split(b" ", 2)[1]


async def test_client_side_bad_arguments_reach_the_daemon_as_422(
    client: LoopsyClient, roomy: Services
) -> None:
    with pytest.raises(ValidationFailed):
        await client.context.set("k", "v", ttl=0)
    with pytest.raises(ValidationFailed):
        await client.context.list(limit=0)
    for key in ("new\nline", "nul\x00", ""):
        with pytest.raises(ValidationFailed):
            await client.context.set(key, "v")


async def test_openapi_describes_context(client: LoopsyClient, roomy: Services) -> None:
    doc = await client.openapi()
    item = doc["paths"]["/api/v1/context/{key}"]
    assert set(item) == {"get", "put", "delete"}
    assert item["put"]["x-rate-limit-category"] == "context"
    assert "ContextPut" in doc["components"]["schemas"]
    assert {p["name"] for p in doc["paths"]["/api/v1/context"]["get"]["parameters"]} == {
        "prefix",
        "after",
        "limit",
    }
