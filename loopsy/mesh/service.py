"""The mesh as one daemon service: the registry, the peer certificate, pairing, health
checks and mDNS, wired together; the daemon keeps one as ``services.mesh``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopsy import __version__
from loopsy.mesh.certificate import PeerCertificate, load_or_create
from loopsy.mesh.health import HealthMonitor
from loopsy.mesh.pairing import Identity, Pairing
from loopsy.mesh.registry import PeerRegistry
from loopsy.protocol.peers import NodeHello

if TYPE_CHECKING:
    from loopsy.config import Config
    from loopsy.daemon.store import Store

CAPABILITIES = ("execute", "sessions", "files", "context", "messages")


class Mesh:
    def __init__(
        self,
        *,
        directory: Path,
        config: Callable[[], Config],
        store: Store,
        hash_secret: Callable[[str], str],
        on_event: Callable[[str, dict[str, Any]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self.directory = directory
        self.registry = PeerRegistry(store, hash_secret)
        self._certificate: PeerCertificate | None = None
        self.port = 0  # the bound peer TLS port, once the listener runs
        self.host = ""
        self.advertised: list[str] = []
        self.pairing = Pairing(
            Identity(
                node_id=lambda: self._config().node.id,
                name=lambda: self._config().node.name,
                port=lambda: self.port,
                certificate_source=lambda: self.certificate,
            ),
            self.registry,
            clock,
            on_event,
        )
        self.health = HealthMonitor(
            self.registry, interval=lambda: self._config().mesh.health_interval, clock=clock
        )

    @property
    def certificate(self) -> PeerCertificate:
        """Made on first use: a daemon that never joins a mesh never makes one."""
        if self._certificate is None:
            self._certificate = load_or_create(self.directory, self._config().node.id)
        return self._certificate

    @property
    def listening(self) -> bool:
        return self.port != 0

    def background(self, *, advertise: bool) -> list[Any]:
        """Health checks always; mDNS only when exposed on the LAN and discovery is on."""
        work: list[Any] = [self.health]
        if advertise and self._config().mesh.discovery:
            from loopsy.mesh.discovery import Discovery

            work.append(Discovery(self.registry, self.hello, lambda: self.port, lambda: self.host))
        return work

    def hello(self) -> NodeHello:
        config = self._config()
        return NodeHello(
            node_id=config.node.id,
            name=config.node.name,
            version=__version__,
            capabilities=list(CAPABILITIES),
            fingerprint=self.certificate.fingerprint,
        )
