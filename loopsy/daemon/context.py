"""The key/value context store, in the daemon's SQLite database.

The Python API the routes use, and that other daemon components (the mesh's messages)
build on::

    ctx = services.context
    entry = ctx.set("inbox:node-b:msg-1", body, ttl=86400, if_absent=True)  # or Conflict
    entry = ctx.get("inbox:node-b:msg-1")                                    # or None
    ctx.set(key, new_value, if_version=entry.version)                       # CAS, or Conflict
    page = ctx.list(prefix="inbox:node-b:", after=None, limit=100)
    ctx.delete(key, if_version=entry.version)                               # True if deleted

Every call is synchronous and short (one SQLite transaction, no fsync in WAL mode with
``synchronous=NORMAL``), so routes call it straight from the event loop: a thread hop
would cost more than the work. A write returns only after its transaction committed, so
an acknowledged write survives the daemon being killed at any instant.

Expired entries are invisible at once (every read filters on ``expires_at``); their rows
are deleted by :class:`ContextPurger` every minute, and at once when a limit is reached.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.lowlevel

from loopsy.daemon.store import Store
from loopsy.protocol.context import (
    DEFAULT_PAGE,
    MAX_PAGE,
    MAX_TTL,
    ContextEntry,
    ContextPage,
    check_key_text,
    utf8_size,
)
from loopsy.protocol.errors import Conflict, PayloadTooLarge, ValidationFailed

log = logging.getLogger("loopsy.daemon.context")

MIGRATIONS = [
    # version: the rowid, AUTOINCREMENT so it is never reused; INSERT OR REPLACE makes a new
    # row, hence a new version, on every write. size: bytes of key + value, for the quota.
    """
    CREATE TABLE context (
        version INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        value TEXT NOT NULL,
        size INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        expires_at REAL
    );
    CREATE INDEX context_expiry ON context (expires_at) WHERE expires_at IS NOT NULL
    """,
]

# A listing page stops once its values reach this many bytes (always one entry at least).
PAGE_BYTES = 4 << 20
PURGE_BATCH = 1000
PURGE_INTERVAL = 60.0

# Both bounds on ``key`` let SQLite scan just the prefix's range of the unique index.
_LIST = (
    "SELECT key, value, version, updated_at, expires_at FROM context "
    "WHERE key >= ? AND key < ? AND key > ? AND (expires_at IS NULL OR expires_at > ?) "
    "ORDER BY key LIMIT ?"
)
_LIST_UNBOUNDED = (
    "SELECT key, value, version, updated_at, expires_at FROM context "
    "WHERE key >= ? AND key > ? AND (expires_at IS NULL OR expires_at > ?) "
    "ORDER BY key LIMIT ?"
)


@dataclass(frozen=True)
class ContextLimits:
    """What the store holds at most; each limit is named in the error that enforces it."""

    max_key_bytes: int = 512
    max_value_bytes: int = 1 << 20
    max_keys: int = 100_000
    max_total_bytes: int = 256 << 20


class ContextStore:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        limits: ContextLimits | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.limits = limits or ContextLimits()
        store.migrate("context", MIGRATIONS)
        self._count, self._bytes = self._totals()

    # -- reads -----------------------------------------------------------------------

    def get(self, key: str) -> ContextEntry | None:
        """The live entry under ``key``, or None (absent or expired)."""
        self.check_key(key)
        row = self.store.one(
            "SELECT key, value, version, updated_at, expires_at FROM context "
            "WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, self.clock()),
        )
        return _entry(row) if row is not None else None

    def list(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> ContextPage:
        """Live entries whose key starts with ``prefix``, in key order, after ``after``.

        A page holds at most ``limit`` entries and about :data:`PAGE_BYTES` of values;
        ``next_after`` is set while more may follow.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(f"limit must be 1..{MAX_PAGE}, not {limit}")
        check_key_text("prefix", prefix)
        if after is not None:
            check_key_text("after", after)
        # Keys are never empty, so "after ''" excludes nothing.
        params: tuple[object, ...] = (prefix, after or "", self.clock(), limit + 1)
        upper = prefix_upper_bound(prefix)
        if upper is None:
            sql = _LIST_UNBOUNDED
        else:
            sql, params = _LIST, (*params[:1], upper, *params[1:])
        rows = self.store.all(sql, params)
        entries: list[ContextEntry] = []
        size = 0
        for row in rows[:limit]:
            if entries and size >= PAGE_BYTES:
                break
            entries.append(_entry(row))
            size += len(row["value"])
        more = len(entries) < len(rows)
        return ContextPage(entries=entries, next_after=entries[-1].key if more else None)

    def stats(self) -> tuple[int, int]:
        """(rows, bytes) held, expired rows not yet purged included."""
        return self._count, self._bytes

    # -- writes ----------------------------------------------------------------------

    def set(
        self,
        key: str,
        value: str,
        *,
        ttl: float | None = None,
        if_absent: bool = False,
        if_version: int | None = None,
    ) -> ContextEntry:
        """Write ``value`` under ``key``; committed when this returns.

        ``if_absent``: only if no live entry exists (set-if-absent, for idempotent ids).
        ``if_version``: only if the live entry has that version (compare-and-set).
        Either condition failing raises :class:`Conflict` with the current version in
        ``details``; nothing is written.
        """
        key_bytes = self.check_key(key)
        value_bytes = utf8_size("value", value)
        if value_bytes > self.limits.max_value_bytes:
            raise PayloadTooLarge(
                f"value is {value_bytes} bytes; the context value size limit is "
                f"{self.limits.max_value_bytes} bytes",
                hint="store large data as a file (`loopsy files push`) and keep its path here",
            )
        if ttl is not None and not 0 < ttl <= MAX_TTL:
            raise ValidationFailed(f"ttl must be more than 0 and at most {MAX_TTL:.0f} seconds")
        if if_absent and if_version is not None:
            raise ValidationFailed("if_absent and if_version cannot be combined")
        size = key_bytes + value_bytes
        now = self.clock()
        expires_at = now + ttl if ttl is not None else None
        limits = self.limits
        if self._count >= limits.max_keys or self._bytes + size > limits.max_total_bytes:
            self._purge_all_expired(now)
        with self.store.transaction() as db:
            old = db.execute(
                "SELECT version, size, expires_at FROM context WHERE key = ?", (key,)
            ).fetchone()
            live = old is not None and _is_live(old, now)
            current = old["version"] if live else None
            if if_absent and live:
                raise Conflict(
                    f"key {key!r} already exists (version {current})",
                    details={"version": current},
                )
            if if_version is not None and current != if_version:
                raise Conflict(
                    f"key {key!r} is at version {current}, not {if_version}"
                    if live
                    else f"key {key!r} does not exist (expected version {if_version})",
                    details={"version": current},
                )
            count, total = self._room_for(old, size)
            cursor = db.execute(
                "INSERT OR REPLACE INTO context (key, value, size, updated_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, value, size, now, expires_at),
            )
            version = cursor.lastrowid
        self._count, self._bytes = count, total
        assert version is not None
        return ContextEntry(
            key=key, value=value, version=version, updated_at=now, expires_at=expires_at
        )

    def delete(self, key: str, *, if_version: int | None = None) -> bool:
        """Delete the live entry; False if there is none. ``if_version`` as in :meth:`set`."""
        self.check_key(key)
        now = self.clock()
        with self.store.transaction() as db:
            old = db.execute(
                "SELECT version, size, expires_at FROM context WHERE key = ?", (key,)
            ).fetchone()
            live = old is not None and _is_live(old, now)
            current = old["version"] if live else None
            if if_version is not None and current != if_version:
                raise Conflict(
                    f"key {key!r} is at version {current}, not {if_version}"
                    if live
                    else f"key {key!r} does not exist (expected version {if_version})",
                    details={"version": current},
                )
            if old is not None:
                db.execute("DELETE FROM context WHERE version = ?", (old["version"],))
        if old is not None:
            self._count -= 1
            self._bytes -= old["size"]
        return live

    def purge_expired(self, *, batch: int = PURGE_BATCH) -> int:
        """Delete up to ``batch`` expired rows; returns how many went."""
        with self.store.transaction() as db:
            rows = db.execute(
                "DELETE FROM context WHERE version IN (SELECT version FROM context "
                "WHERE expires_at <= ? LIMIT ?) RETURNING size",
                (self.clock(), batch),
            ).fetchall()
        self._count -= len(rows)
        self._bytes -= sum(row["size"] for row in rows)
        return len(rows)

    # -- limits ----------------------------------------------------------------------

    def check_key(self, key: str) -> int:
        """Refuse a key that is empty, too long, or holds control characters; its size."""
        size = check_key_text("key", key)
        if size == 0:
            raise ValidationFailed("key must not be empty")
        if size > self.limits.max_key_bytes:
            raise ValidationFailed(
                f"key is {size} bytes; the context key length limit is "
                f"{self.limits.max_key_bytes} bytes"
            )
        return size

    def _room_for(self, old: sqlite3.Row | None, size: int) -> tuple[int, int]:
        """The (count, bytes) after writing ``size`` bytes over the row ``old`` (None: a
        new key), or PayloadTooLarge."""
        count = self._count + (0 if old is not None else 1)
        total = self._bytes + size - (old["size"] if old is not None else 0)
        hint = "delete keys you no longer need (`loopsy context rm`) or give them a TTL"
        if count > self.limits.max_keys:
            raise PayloadTooLarge(
                f"the context already holds {self._count} keys, its key count limit", hint=hint
            )
        if total > self.limits.max_total_bytes:
            raise PayloadTooLarge(
                f"the context would hold {total} bytes; its total size limit is "
                f"{self.limits.max_total_bytes} bytes",
                hint=hint,
            )
        return count, total

    def _purge_all_expired(self, now: float) -> None:
        """Expired rows still count against the limits until purged: purge them all."""
        with self.store.transaction() as db:
            rows = db.execute(
                "DELETE FROM context WHERE expires_at <= ? RETURNING size", (now,)
            ).fetchall()
        self._count -= len(rows)
        self._bytes -= sum(row["size"] for row in rows)

    def _totals(self) -> tuple[int, int]:
        return _totals_of(self.store.db)


class ContextPurger:
    """Background: deletes expired rows every :data:`PURGE_INTERVAL` seconds."""

    def __init__(self, context: ContextStore, interval: float = PURGE_INTERVAL) -> None:
        self.context = context
        self.interval = interval

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            try:
                # Batches keep each transaction short; the bound keeps one sweep finite.
                for _ in range(1000):
                    if self.context.purge_expired() < PURGE_BATCH:
                        break
                    await anyio.lowlevel.checkpoint()
            except sqlite3.Error:
                log.exception("purging expired context entries failed")


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (None: no bound).

    SQLite compares TEXT as UTF-8 bytes, which orders like code points, so bumping the
    last character that can be bumped gives the bound; surrogates are skipped (not UTF-8).
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < 0x10FFFF:
            code += 1
            if 0xD800 <= code <= 0xDFFF:
                code = 0xE000
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _entry(row: sqlite3.Row) -> ContextEntry:
    return ContextEntry(
        key=row["key"],
        value=row["value"],
        version=row["version"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
    )


def _is_live(row: sqlite3.Row, now: float) -> bool:
    expires_at = row["expires_at"]
    return expires_at is None or expires_at > now


def _totals_of(db: sqlite3.Connection) -> tuple[int, int]:
    row = db.execute("SELECT count(*), total(size) FROM context").fetchone()
    return int(row[0]), int(row[1])
