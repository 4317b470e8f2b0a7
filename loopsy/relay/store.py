"""The relay's SQLite database: devices, pair tokens and phones, every secret hashed.

What the relay keeps is deliberately little: ids, SHA-256 hashes of secrets, timestamps
and counters. No key material, no names, no traffic. Pair rows are deleted once expired.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopsy.protocol.pairing import hash_matches

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
  device_id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  created_at REAL NOT NULL,
  last_seen REAL
);
CREATE TABLE IF NOT EXISTS pairs (
  pair_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at REAL NOT NULL,
  connections INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'open'
);
CREATE TABLE IF NOT EXISTS phones (
  device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  phone_id TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_at REAL NOT NULL,
  last_seen REAL,
  PRIMARY KEY (device_id, phone_id)
)
"""

# A pair token admits this many pairing connections, then it is burned (the daemon also
# burns it after this many wrong codes).
MAX_PAIR_CONNECTIONS = 5


@dataclass(frozen=True)
class Pair:
    pair_id: str
    device_id: str
    expires_at: float
    connections: int
    state: str


@dataclass(frozen=True)
class Phone:
    device_id: str
    phone_id: str
    created_at: float
    last_seen: float | None


class RelayStore:
    def __init__(self, path: Path | str) -> None:
        if isinstance(path, Path):
            # Made 0600 before SQLite opens it: the -wal and -shm files SQLite creates next
            # take the database file's mode, and they hold the same hashes.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        # Deleted rows (revoked phones' hashes) are overwritten, not left in free pages.
        self.db.execute("PRAGMA secure_delete=ON")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self.db.execute(statement)
        if isinstance(path, Path):
            path.chmod(0o600)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- devices ------------------------------------------------------------------------

    def add_device(self, device_id: str, secret_hash: str, now: float) -> None:
        self.db.execute(
            "INSERT INTO devices (device_id, secret_hash, created_at) VALUES (?, ?, ?)",
            (device_id, secret_hash, now),
        )

    def check_device(self, device_id: str, secret: bytes) -> bool:
        row = self.db.execute(
            "SELECT secret_hash FROM devices WHERE device_id = ?", (device_id,)
        ).fetchone()
        # An unknown id still costs one comparison, so timing does not tell ids apart.
        stored = row["secret_hash"] if row else "0" * 64
        return hash_matches(secret, stored) and row is not None

    def device_created(self, device_id: str) -> float:
        row = self.db.execute(
            "SELECT created_at FROM devices WHERE device_id = ?", (device_id,)
        ).fetchone()
        return float(row["created_at"]) if row else 0.0

    def touch_device(self, device_id: str, now: float) -> None:
        self.db.execute("UPDATE devices SET last_seen = ? WHERE device_id = ?", (now, device_id))

    # -- pairs --------------------------------------------------------------------------

    def add_pair(self, pair_id: str, device_id: str, token_hash: str, expires_at: float) -> bool:
        try:
            self.db.execute(
                "INSERT INTO pairs (pair_id, device_id, token_hash, expires_at) VALUES (?,?,?,?)",
                (pair_id, device_id, token_hash, expires_at),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def admit_pair_connection(self, token_hash: str, now: float) -> Pair | None:
        """Count a pairing connection; the pair if it may go on, None if the token is unknown,
        used, expired or burned (a connection beyond the limit burns it)."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM pairs WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None or row["state"] != "open" or row["expires_at"] <= now:
                return None
            connections = row["connections"] + 1
            state = "burned" if connections > MAX_PAIR_CONNECTIONS else "open"
            db.execute(
                "UPDATE pairs SET connections = ?, state = ? WHERE pair_id = ?",
                (connections, state, row["pair_id"]),
            )
        if state != "open":
            return None
        return Pair(row["pair_id"], row["device_id"], row["expires_at"], connections, state)

    def burn_pair(self, device_id: str, pair_id: str) -> bool:
        cursor = self.db.execute(
            "UPDATE pairs SET state = 'burned' WHERE pair_id = ? AND device_id = ?",
            (pair_id, device_id),
        )
        return cursor.rowcount > 0

    def pair_open(self, device_id: str, pair_id: str, now: float) -> bool:
        row = self.db.execute(
            "SELECT state, expires_at FROM pairs WHERE pair_id = ? AND device_id = ?",
            (pair_id, device_id),
        ).fetchone()
        return row is not None and row["state"] == "open" and row["expires_at"] > now

    def open_pairs(self, device_id: str, now: float) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) AS n FROM pairs WHERE device_id = ? AND state = 'open' "
            "AND expires_at > ?",
            (device_id, now),
        ).fetchone()
        return int(row["n"])

    def phone_count(self, device_id: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) AS n FROM phones WHERE device_id = ?", (device_id,)
        ).fetchone()
        return int(row["n"])

    def delete_expired(self, now: float) -> int:
        return self.db.execute("DELETE FROM pairs WHERE expires_at <= ?", (now,)).rowcount

    # -- phones -------------------------------------------------------------------------

    def add_phone(
        self, device_id: str, pair_id: str, phone_id: str, secret_hash: str, now: float
    ) -> str:
        """``"ok"``, ``"gone"`` (pair not open) or ``"exists"`` (phone id taken)."""
        with self._tx() as db:
            pair = db.execute(
                "SELECT state, expires_at FROM pairs WHERE pair_id = ? AND device_id = ?",
                (pair_id, device_id),
            ).fetchone()
            if pair is None or pair["state"] != "open" or pair["expires_at"] <= now:
                return "gone"
            exists = db.execute(
                "SELECT 1 FROM phones WHERE device_id = ? AND phone_id = ?", (device_id, phone_id)
            ).fetchone()
            if exists:
                return "exists"
            db.execute("UPDATE pairs SET state = 'used' WHERE pair_id = ?", (pair_id,))
            db.execute(
                "INSERT INTO phones (device_id, phone_id, secret_hash, created_at) "
                "VALUES (?, ?, ?, ?)",
                (device_id, phone_id, secret_hash, now),
            )
        return "ok"

    def check_phone(self, device_id: str, phone_id: str, secret: bytes) -> bool:
        row = self.db.execute(
            "SELECT secret_hash FROM phones WHERE device_id = ? AND phone_id = ?",
            (device_id, phone_id),
        ).fetchone()
        stored = row["secret_hash"] if row else "0" * 64
        return hash_matches(secret, stored) and row is not None

    def phones(self, device_id: str) -> list[Phone]:
        rows = self.db.execute(
            "SELECT * FROM phones WHERE device_id = ? ORDER BY created_at", (device_id,)
        ).fetchall()
        return [Phone(r["device_id"], r["phone_id"], r["created_at"], r["last_seen"]) for r in rows]

    def touch_phone(self, device_id: str, phone_id: str, now: float) -> None:
        self.db.execute(
            "UPDATE phones SET last_seen = ? WHERE device_id = ? AND phone_id = ?",
            (now, device_id, phone_id),
        )

    def delete_phone(self, device_id: str, phone_id: str) -> bool:
        cursor = self.db.execute(
            "DELETE FROM phones WHERE device_id = ? AND phone_id = ?", (device_id, phone_id)
        )
        return cursor.rowcount > 0
