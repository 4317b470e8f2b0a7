"""The daemon's SQLite database (WAL): one connection, per-component schema migrations.

Each component (context, sessions, peers, phones, ...) owns its tables and keeps its own
list of migrations; :meth:`Store.migrate` applies the ones not yet applied, each in one
transaction with its version bump, so a crash mid-migration leaves the old schema.

``synchronous=NORMAL`` in WAL mode: a committed transaction survives the process being
killed at any instant (it is in the WAL, in the OS page cache); only an OS crash or power
loss can drop the last commits.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = path
        if isinstance(path, Path):
            # SQLite gives the -wal and -shm files the database file's mode: make it 0600
            # before they exist, and fix any left 0644 by an older version.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            for suffix in ("", "-wal", "-shm"):
                file = path.with_name(path.name + suffix)
                if file.exists():
                    file.chmod(0o600)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        if isinstance(path, Path):
            path.chmod(0o600)

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Bring ``component``'s tables up to ``len(migrations)``; each step is a SQL script."""
        row = self.db.execute(
            "SELECT version FROM schema_versions WHERE component = ?", (component,)
        ).fetchone()
        current = row["version"] if row else 0
        for version, script in enumerate(migrations[current:], start=current + 1):
            statements = [s for s in script.split(";") if s.strip()]
            with self.transaction():
                for statement in statements:
                    self.db.execute(statement)
                self.db.execute(
                    "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, version),
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        self.db.close()
