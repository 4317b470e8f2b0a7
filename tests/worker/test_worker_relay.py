"""What the Worker relay does beyond the conformance suite: the same headers as the Python
relay, its secrets (PAIR_TOKEN_SECRET, REGISTRATION_SECRET) and its per-address limits."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.conformance.relayclient import RelayClient, b64url
from tests.relay_process import RelayProcess
from tests.worker.wrangler import APP_DIR, WranglerDev

SECURITY_HEADERS = (
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "content-security-policy",
)


@pytest.fixture(scope="module")
def python_relay() -> Iterator[str]:
    process = RelayProcess()
    process.start()
    yield process.url
    process.cleanup()


@pytest.mark.parametrize("path", ["/v1/health", "/v1/nope", "/", "/app/"])
def test_same_security_headers_as_the_python_relay(
    worker_url: str, python_relay: str, path: str
) -> None:
    ours = httpx.get(worker_url + path)
    theirs = httpx.get(python_relay + path)
    assert ours.status_code == theirs.status_code
    for name in SECURITY_HEADERS:
        assert ours.headers.get(name) == theirs.headers.get(name) is not None, name
    if path == "/app/" and (APP_DIR / "index.html").is_file():
        assert ours.text == theirs.text


def test_health_names_the_runtime(worker_url: str) -> None:
    body = httpx.get(worker_url + "/v1/health").json()
    assert body["ok"] is True and body["runtime"] == "cloudflare-worker"
    from loopsy import __version__

    assert body["version"] == __version__


@pytest.mark.anyio
async def test_forged_device_ids_are_refused_at_the_edge(worker_url: str) -> None:
    relay = RelayClient(worker_url)
    device = await relay.register()
    forged = "0123456789abcdef." + b64url(os.urandom(32))
    async with relay.http() as h:
        assert (await h.get("/v1/device", headers=device.auth)).status_code == 200
        r = await h.get("/v1/device", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


@pytest.mark.slow
def test_without_pair_token_secret_the_relay_says_how_to_fix_it() -> None:
    dev = WranglerDev(secret=False)
    try:
        dev.start()
        health = httpx.get(dev.url + "/v1/health")
        assert health.status_code == 503 and health.json()["ok"] is False
        assert "wrangler secret put PAIR_TOKEN_SECRET" in health.json()["error"]["hint"]
        r = httpx.post(dev.url + "/v1/devices", json={})
        assert r.status_code == 503 and "PAIR_TOKEN_SECRET" in r.json()["error"]["message"]
    finally:
        dev.stop()


@pytest.fixture(scope="module")
def strict_worker() -> Iterator[WranglerDev]:
    dev = WranglerDev(
        {"REGISTRATION_SECRET": "s3cret-registration-key", "REGISTER_RATE": "2",
         "FAILED_AUTH_RATE": "4"}
    )  # fmt: skip
    try:
        dev.start()
        yield dev
    finally:
        dev.stop()


@pytest.mark.slow
@pytest.mark.anyio
async def test_registration_secret_rate_and_failed_credentials(strict_worker: WranglerDev) -> None:
    url = strict_worker.url
    async with httpx.AsyncClient(base_url=url) as h:
        for headers in ({}, {"X-Loopsy-Registration": "wrong"}):
            r = await h.post("/v1/devices", json={}, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        good = {"X-Loopsy-Registration": "s3cret-registration-key"}
        created = [await h.post("/v1/devices", json={}, headers=good) for _ in range(2)]
        assert [r.status_code for r in created] == [201, 201]
        limited = await h.post("/v1/devices", json={}, headers=good)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        credential = created[0].json()["credential"]
        auth = {"Authorization": f"Bearer {credential}"}
        assert (await h.get("/v1/device", headers=auth)).status_code == 200
        # Two wrong registration secrets already counted: two more wrong credentials make
        # four (the limit), and then every credential from here waits, even the right one.
        wrong = {"Authorization": f"Bearer {credential[:-4]}AAAA"}
        statuses = [(await h.get("/v1/device", headers=wrong)).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        blocked = await h.get("/v1/device", headers=auth)
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
