"""Health checks of known peers: online or offline, latency, and why not.

A paired peer is asked ``GET /status`` over pinned TLS with the credential it issued, so
"online" means reachable, the same certificate, and this machine still paired there. A peer
only seen is asked the public ``/mesh/hello``. Checks run every ``mesh.healthInterval``
seconds, all peers at once, each bounded by :data:`CHECK_TIMEOUT`.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable

import anyio

from loopsy.mesh.registry import Health, PeerRegistry
from loopsy.protocol.peers import PeerInfo
from loopsy.protocol.tls_pin import pinned_context, unverified_context

log = logging.getLogger("loopsy.mesh")

CHECK_TIMEOUT = 3.0


def base_url(host: str, port: int) -> str:
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


class HealthMonitor:
    def __init__(
        self,
        registry: PeerRegistry,
        interval: Callable[[], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.interval = interval
        self.clock = clock

    async def run(self) -> None:
        while True:
            try:
                await self.check_all()
            except Exception:  # a bad row must not end health checks for good
                log.exception("peer health check failed")
            await anyio.sleep(self.interval())

    async def check_all(self) -> list[PeerInfo]:
        peers = [p for p in self.registry.all() if p.host and p.port]
        async with anyio.create_task_group() as tg:
            for peer in peers:
                tg.start_soon(self.check, peer)
        return self.registry.all()

    async def check(self, peer: PeerInfo) -> Health:
        health = await self._probe(peer)
        if health.status == "offline":
            previous = self.registry.health.get(peer.id)
            health.last_seen = previous.last_seen if previous else None
        # the peer may have been removed while we waited on it
        if any(p.id == peer.id for p in self.registry.all()):
            self.registry.set_health(peer.id, health)
        return health

    async def _probe(self, peer: PeerInfo) -> Health:
        # Imported here, not at start: checks run only for known peers, and httpx with its
        # dependencies is ~5 MB of a daemon that may never have one.
        import httpx

        assert peer.host is not None and peer.port is not None
        headers: dict[str, str] = {}
        context: ssl.SSLContext
        path = "/api/v1/mesh/hello"
        if peer.paired:
            endpoint = self.registry.endpoint(peer.id)
            context = pinned_context(endpoint.cert_pem)
            headers["Authorization"] = f"Bearer {endpoint.credential}"
            path = "/api/v1/status"
        else:
            context = unverified_context()
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(verify=context, timeout=CHECK_TIMEOUT) as http:
                response = await http.get(base_url(peer.host, peer.port) + path, headers=headers)
        except httpx.ConnectError as exc:
            reason = (
                "certificate differs from the one pinned at pairing"
                if isinstance(exc.__cause__, ssl.SSLError) or "CERTIFICATE" in str(exc)
                else "unreachable"
            )
            return Health("offline", last_error=reason)
        except httpx.HTTPError as exc:
            return Health("offline", last_error=f"no answer ({type(exc).__name__})")
        latency = (time.perf_counter() - started) * 1000
        if response.status_code == 401:
            return Health("offline", last_error="this machine is no longer paired there")
        if response.status_code != 200:
            return Health("offline", last_error=f"answered HTTP {response.status_code}")
        try:
            node_id = response.json().get("node_id")
        except ValueError:
            node_id = None
        if node_id != peer.id:
            return Health("offline", last_error=f"another node answers there ({node_id})")
        return Health("online", latency_ms=round(latency, 2), last_seen=self.clock())
