"""The peer registry: paired peers (with their pinned certificate and credentials) and
peers only seen (mDNS, ``peers add``), in the ``mesh`` tables of the daemon's database.

Credentials: the one this machine issued to a peer is kept only as its hash (it is checked,
never shown); the one the peer issued to this machine is kept as is, because this machine
presents it. Health (online, latency) is kept in memory: it is re-measured every few
seconds and is worthless after a restart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopsy.protocol.errors import Conflict, NotFound
from loopsy.protocol.peers import Grant, PeerEndpoint, PeerInfo, PeerStatusValue
from loopsy.protocol.tls_pin import fingerprint

if TYPE_CHECKING:
    from loopsy.daemon.store import Store

MIGRATIONS = [
    """
    CREATE TABLE mesh_peers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        host TEXT,
        port INTEGER,
        paired INTEGER NOT NULL DEFAULT 0,
        source TEXT NOT NULL,
        cert_pem TEXT,
        fingerprint TEXT,
        credential_out TEXT,
        credential_in_hash TEXT UNIQUE,
        paired_at REAL,
        version TEXT,
        capabilities TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX mesh_peers_name ON mesh_peers (name)
    """,
]


@dataclass
class Health:
    status: PeerStatusValue = "unknown"
    latency_ms: float | None = None
    last_seen: float | None = None
    last_error: str | None = None


class PeerRegistry:
    def __init__(self, store: Store, hash_secret: Callable[[str], str]) -> None:
        self.store = store
        self._hash = hash_secret
        store.migrate("mesh", MIGRATIONS)
        self.health: dict[str, Health] = {}
        self._by_hash: dict[str, str] = {}
        # Told of every change (kind, peer id): the daemon publishes it on its event bus.
        self.on_change: Callable[[str, str], None] = lambda kind, peer_id: None
        self._reload_credentials()

    # -- authentication --------------------------------------------------------------------

    def _reload_credentials(self) -> None:
        rows = self.store.all(
            "SELECT id, credential_in_hash FROM mesh_peers WHERE credential_in_hash IS NOT NULL"
        )
        self._by_hash = {row["credential_in_hash"]: row["id"] for row in rows}

    def peer_for_token(self, token: str) -> str | None:
        """The paired peer that holds ``token``. The lookup is by SHA-256 of a 256-bit
        random secret, so a timing difference reveals nothing usable."""
        return self._by_hash.get(self._hash(token))

    # -- reading -----------------------------------------------------------------------------

    def all(self) -> list[PeerInfo]:
        rows = self.store.all("SELECT * FROM mesh_peers ORDER BY paired DESC, name, id")
        return [self._info(row) for row in rows]

    def paired(self) -> list[PeerInfo]:
        return [p for p in self.all() if p.paired]

    def get(self, ref: str) -> PeerInfo:
        return self._info(self._row(ref))

    def resolve_id(self, ref: str) -> str:
        return str(self._row(ref)["id"])

    def _row(self, ref: str) -> sqlite3.Row:
        row = self.store.one("SELECT * FROM mesh_peers WHERE id = ?", (ref,))
        if row is not None:
            return row
        rows = self.store.all("SELECT * FROM mesh_peers WHERE name = ?", (ref,))
        if len(rows) > 1:
            raise Conflict(
                f"{len(rows)} peers are named {ref!r}",
                hint="name the peer by its id (see `loopsy peers list`)",
            )
        if not rows:
            raise NotFound(
                f"no peer named {ref!r}",
                hint="`loopsy peers list` shows known peers; `loopsy pair HOST` pairs one",
            )
        return rows[0]

    def endpoint(self, ref: str) -> PeerEndpoint:
        row = self._row(ref)
        if not row["paired"] or not row["host"] or not row["port"]:
            raise Conflict(
                f"peer {row['name']!r} is not paired",
                hint=f"pair it first: `loopsy pair {row['host'] or 'HOST'}:{row['port'] or ''}`",
            )
        return PeerEndpoint(
            node_id=row["id"],
            name=row["name"],
            host=row["host"],
            port=row["port"],
            credential=row["credential_out"],
            cert_pem=row["cert_pem"],
        )

    def _info(self, row: sqlite3.Row) -> PeerInfo:
        health = self.health.get(row["id"], Health())
        return PeerInfo(
            id=row["id"],
            name=row["name"],
            host=row["host"],
            port=row["port"],
            paired=bool(row["paired"]),
            status=health.status,
            latency_ms=health.latency_ms,
            last_seen=health.last_seen,
            last_error=health.last_error,
            fingerprint=row["fingerprint"],
            version=row["version"],
            capabilities=json.loads(row["capabilities"] or "[]"),
            source=row["source"],
            paired_at=row["paired_at"],
        )

    # -- writing -----------------------------------------------------------------------------

    def save_paired(
        self, grant: Grant, host: str, issued_credential: str, paired_at: float
    ) -> PeerInfo:
        """Store a peer after pairing: its grant (credential to present, certificate to pin)
        and the hash of the credential this machine issued to it. Pairing again replaces
        both credentials, so the old ones stop working at once."""
        with self.store.transaction() as db:
            db.execute(
                """
                INSERT INTO mesh_peers (id, name, host, port, paired, source, cert_pem,
                    fingerprint, credential_out, credential_in_hash, paired_at)
                VALUES (?, ?, ?, ?, 1, 'paired', ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, host = excluded.host,
                    port = excluded.port, paired = 1, source = 'paired',
                    cert_pem = excluded.cert_pem, fingerprint = excluded.fingerprint,
                    credential_out = excluded.credential_out,
                    credential_in_hash = excluded.credential_in_hash,
                    paired_at = excluded.paired_at
                """,
                (
                    grant.node_id,
                    grant.name,
                    host,
                    grant.port,
                    grant.cert_pem,
                    fingerprint(grant.cert_pem),
                    grant.credential,
                    self._hash(issued_credential),
                    paired_at,
                ),
            )
        self._reload_credentials()
        self.on_change("peer.paired", grant.node_id)
        return self.get(grant.node_id)

    def note_seen(
        self,
        *,
        node_id: str,
        name: str,
        host: str,
        port: int,
        cert_fingerprint: str,
        version: str,
        capabilities: list[str],
        source: str,
    ) -> PeerInfo:
        """Record a node seen on the network. A paired peer's address is updated only when
        it proves to hold the pinned certificate; an impostor using its node id cannot
        redirect calls."""
        caps = json.dumps(capabilities[:32])
        row = self.store.one("SELECT paired, fingerprint FROM mesh_peers WHERE id = ?", (node_id,))
        if row is not None and row["paired"]:
            if row["fingerprint"] != cert_fingerprint:
                raise Conflict(
                    f"{host}:{port} claims to be paired peer {node_id} with another certificate",
                    hint="if that machine was reinstalled, `loopsy peers remove` it and pair again",
                )
            self.store.execute(
                "UPDATE mesh_peers SET host = ?, port = ?, version = ?, capabilities = ? "
                "WHERE id = ?",
                (host, port, version, caps, node_id),
            )
        else:
            self.store.execute(
                """
                INSERT INTO mesh_peers (id, name, host, port, paired, source, fingerprint,
                    version, capabilities)
                VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, host = excluded.host,
                    port = excluded.port, fingerprint = excluded.fingerprint,
                    version = excluded.version, capabilities = excluded.capabilities
                """,
                (node_id, name[:63], host, port, source, cert_fingerprint, version, caps),
            )
        self.on_change("peer.seen", node_id)
        return self.get(node_id)

    def remove(self, ref: str) -> PeerInfo:
        """Forget a peer; its credential stops working with the next request."""
        info = self.get(ref)
        self.store.execute("DELETE FROM mesh_peers WHERE id = ?", (info.id,))
        self.health.pop(info.id, None)
        self._reload_credentials()
        self.on_change("peer.removed", info.id)
        return info

    def set_health(self, peer_id: str, health: Health) -> None:
        self.health[peer_id] = health
        self.on_change("peer.health", peer_id)
