"""What the daemon keeps about phones and relays, in its SQLite database (0600).

- ``phones``: id, name, the phone's pinned X25519 public key, created, last seen.
- ``relay_identity``: the daemon's X25519 static private key (made once).
- ``relay_devices``: per relay URL, the device id and secret the relay issued (the daemon
  must present the secret, so it is kept as is, like the API key in config.yaml).
- ``relay_revocations``: revocations the relay has not acknowledged yet (retried).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopsy.daemon.store import Store
from loopsy.protocol.pairing import Credential
from loopsy.protocol.phones import Phone

# The key functions (and cryptography under them) are imported once the key is needed:
# the registry is built in every daemon, with or without a relay.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

MIGRATIONS = [
    """
    CREATE TABLE phones (
      phone_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      public_key BLOB NOT NULL,
      device_id TEXT NOT NULL,
      created_at REAL NOT NULL,
      last_seen REAL
    );
    CREATE TABLE relay_identity (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      static_private BLOB NOT NULL
    );
    CREATE TABLE relay_devices (
      url TEXT PRIMARY KEY,
      device_id TEXT NOT NULL,
      secret BLOB NOT NULL,
      created_at REAL NOT NULL
    );
    CREATE TABLE relay_revocations (
      url TEXT NOT NULL,
      phone_id TEXT NOT NULL,
      PRIMARY KEY (url, phone_id)
    )
    """
]


@dataclass(frozen=True)
class PhoneRecord:
    phone_id: str
    name: str
    public_key: bytes
    device_id: str
    created_at: float
    last_seen: float | None


class PhoneRegistry:
    def __init__(
        self, store: Store, *, clock: Callable[[], float], randbytes: Callable[[int], bytes]
    ) -> None:
        self.store = store
        self.clock = clock
        self.randbytes = randbytes
        store.migrate("phones", MIGRATIONS)
        self._static: X25519PrivateKey | None = None
        # Told of every change (kind, phone id): the daemon publishes it on its event bus.
        self.on_change: Callable[[str, str], None] = lambda kind, phone_id: None

    # -- the daemon's static key --------------------------------------------------------

    def static_key(self) -> X25519PrivateKey:
        if self._static is None:
            from loopsy.protocol.noise import private_key

            row = self.store.one("SELECT static_private FROM relay_identity WHERE id = 1")
            if row is None:
                raw = self.randbytes(32)
                self.store.execute(
                    "INSERT OR IGNORE INTO relay_identity (id, static_private) VALUES (1, ?)",
                    (raw,),
                )
                row = self.store.one("SELECT static_private FROM relay_identity WHERE id = 1")
                assert row is not None
            self._static = private_key(bytes(row["static_private"]))
        return self._static

    def static_public(self) -> bytes:
        from loopsy.protocol.noise import public_bytes

        return public_bytes(self.static_key())

    # -- relay devices ------------------------------------------------------------------

    def device_for(self, url: str) -> Credential | None:
        row = self.store.one("SELECT device_id, secret FROM relay_devices WHERE url = ?", (url,))
        return Credential(row["device_id"], bytes(row["secret"])) if row else None

    def save_device(self, url: str, credential: Credential) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO relay_devices (url, device_id, secret, created_at) "
            "VALUES (?, ?, ?, ?)",
            (url, credential.id, credential.secret, self.clock()),
        )

    def forget_device(self, url: str) -> None:
        self.store.execute("DELETE FROM relay_devices WHERE url = ?", (url,))

    # -- phones -------------------------------------------------------------------------

    def add(self, phone_id: str, name: str, public_key: bytes, device_id: str) -> PhoneRecord:
        now = self.clock()
        self.store.execute(
            "INSERT INTO phones (phone_id, name, public_key, device_id, created_at, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (phone_id, name, public_key, device_id, now, now),
        )
        self.on_change("phone.paired", phone_id)
        return PhoneRecord(phone_id, name, public_key, device_id, now, now)

    def get(self, phone_id: str) -> PhoneRecord | None:
        row = self.store.one("SELECT * FROM phones WHERE phone_id = ?", (phone_id,))
        if row is None:
            return None
        return PhoneRecord(
            row["phone_id"],
            row["name"],
            bytes(row["public_key"]),
            row["device_id"],
            row["created_at"],
            row["last_seen"],
        )

    def phones(self, connected: set[str]) -> list[Phone]:
        rows = self.store.all("SELECT * FROM phones ORDER BY created_at")
        return [
            Phone(
                phone_id=r["phone_id"],
                name=r["name"],
                created_at=r["created_at"],
                last_seen=r["last_seen"],
                connected=r["phone_id"] in connected,
            )
            for r in rows
        ]

    def touch(self, phone_id: str) -> None:
        self.store.execute(
            "UPDATE phones SET last_seen = ? WHERE phone_id = ?", (self.clock(), phone_id)
        )
        self.on_change("phone.seen", phone_id)

    def remove(self, phone_id: str, relay_url: str | None) -> bool:
        with self.store.transaction() as db:
            gone = db.execute("DELETE FROM phones WHERE phone_id = ?", (phone_id,)).rowcount > 0
            if gone and relay_url:
                db.execute(
                    "INSERT OR IGNORE INTO relay_revocations (url, phone_id) VALUES (?, ?)",
                    (relay_url, phone_id),
                )
        if gone:
            self.on_change("phone.revoked", phone_id)
        return gone

    def pending_revocations(self, url: str) -> list[str]:
        rows = self.store.all("SELECT phone_id FROM relay_revocations WHERE url = ?", (url,))
        return [r["phone_id"] for r in rows]

    def revocation_done(self, url: str, phone_id: str) -> None:
        self.store.execute(
            "DELETE FROM relay_revocations WHERE url = ? AND phone_id = ?", (url, phone_id)
        )
