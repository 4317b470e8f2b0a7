"""mDNS: advertise this node as ``_loopsy._tcp.local.`` and browse for the others.

Both run only while the daemon is exposed on the LAN (``loopsy start --lan``) and
``mesh.discovery`` is on: a loopback-only daemon neither announces itself nor listens to
the network. The service points at the peer TLS port; its TXT record carries ``id``,
``name``, ``version``, ``caps`` (comma-separated capabilities) and ``fp`` (the SHA-256 of
the peer certificate). Nodes found are recorded as seen (``source: mdns``); a TXT record
is a claim, not a proof, so a paired peer's address changes only if the record's
fingerprint is the pinned one, and every call is then checked by TLS against the pin.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import anyio
import ifaddr
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from loopsy.mesh.registry import Health, PeerRegistry
from loopsy.protocol.errors import ApiError
from loopsy.protocol.peers import NodeHello

log = logging.getLogger("loopsy.mesh")

SERVICE_TYPE = "_loopsy._tcp.local."
RESOLVE_TIMEOUT_MS = 3000
MAX_PENDING = 256


def instance_name(hello: NodeHello) -> str:
    # DNS labels are at most 63 bytes; the id suffix keeps two "laptop"s apart.
    label = "".join(c if c.isalnum() or c in "-_" else "-" for c in hello.name)[:40]
    return f"{label}-{hello.node_id[:12]}.{SERVICE_TYPE}"


def txt_record(hello: NodeHello) -> dict[str, str]:
    return {
        "id": hello.node_id,
        "name": hello.name,
        "version": hello.version,
        "caps": ",".join(hello.capabilities),
        "fp": hello.fingerprint,
    }


def parse_txt(properties: dict[bytes, bytes | None]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in properties.items():
        if value is None:
            continue
        try:
            out[key.decode()] = value.decode()
        except UnicodeDecodeError:
            continue
    return out


def lan_addresses(bind_host: str) -> list[str]:
    """The IPv4 addresses to announce: the bound one, or every non-loopback one (and
    loopback only when nothing else exists, as in a bare test namespace)."""
    if bind_host not in ("0.0.0.0", ""):  # noqa: S104
        return [bind_host]
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                found.append(ip.ip)
    return found or ["127.0.0.1"]


class Discovery:
    def __init__(
        self,
        registry: PeerRegistry,
        hello: Callable[[], NodeHello],
        port: Callable[[], int],
        bind_host: Callable[[], str],
    ) -> None:
        self.registry = registry
        self.hello = hello
        self.port = port
        self.bind_host = bind_host
        self._pending: dict[str, ServiceStateChange] = {}
        self._wake = anyio.Event()

    async def run(self) -> None:
        """Announce and browse until cancelled. mDNS is a convenience: if the network will
        not have it (no multicast, no interface), say so in the log and let the daemon run
        on; `loopsy peers add` still works."""
        try:
            await self._announce_and_browse()
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("mDNS discovery is off: %s (use `loopsy peers add HOST`)", exc)

    async def _announce_and_browse(self) -> None:
        me = self.hello()
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            instance_name(me),
            addresses=[socket.inet_aton(a) for a in lan_addresses(self.bind_host())],
            port=self.port(),
            properties=txt_record(me),
            server=f"loopsy-{me.node_id[:12]}.local.",
        )
        azc = AsyncZeroconf(ip_version=IPVersion.V4Only)
        browser: AsyncServiceBrowser | None = None
        try:
            await azc.async_register_service(info, allow_name_change=True)
            log.info("mDNS: announcing %s on port %s", info.name, self.port())
            browser = AsyncServiceBrowser(azc.zeroconf, [SERVICE_TYPE], handlers=[self._changed])
            await self._resolve_loop(azc.zeroconf, me.node_id)
        finally:
            with anyio.CancelScope(shield=True):
                if browser is not None:
                    await browser.async_cancel()
                await azc.async_unregister_all_services()
                await azc.async_close()

    def _changed(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if len(self._pending) < MAX_PENDING:  # a flood of announcements cannot grow memory
            self._pending[name] = state_change
        self._wake.set()

    async def _resolve_loop(self, zeroconf: Zeroconf, own_id: str) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            pending, self._pending = self._pending, {}
            for name, change in pending.items():
                try:
                    await self._resolve(zeroconf, name, change, own_id)
                except Exception:  # one bad record must not stop discovery
                    log.exception("mDNS: could not resolve %s", name)

    async def _resolve(
        self, zeroconf: Zeroconf, name: str, change: ServiceStateChange, own_id: str
    ) -> None:
        if change is ServiceStateChange.Removed:
            for peer in self.registry.all():
                if name.startswith(peer.name[:20]) and peer.id[:12] in name:
                    self.registry.set_health(peer.id, Health("offline", last_error="left mDNS"))
            return
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS):
            return
        txt = parse_txt(info.properties)
        node_id = txt.get("id", "")
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if not node_id or node_id == own_id or not addresses or not info.port:
            return
        try:
            self.registry.note_seen(
                node_id=node_id[:64],
                name=txt.get("name", node_id)[:63] or node_id[:63],
                host=addresses[0],
                port=info.port,
                cert_fingerprint=txt.get("fp", "")[:64],
                version=txt.get("version", "")[:32],
                capabilities=[c for c in txt.get("caps", "").split(",") if c][:32],
                source="mdns",
            )
        except ApiError as exc:
            log.warning("mDNS: ignoring %s: %s", name, exc.message)
