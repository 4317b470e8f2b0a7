"""Session metadata in SQLite: one row per session, kept until the session is removed.

The holder's ``meta.json`` is the other record (it survives a daemon that crashed before
writing here); the supervisor reconciles the two at start-up.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, fields
from typing import Any

from loopsy.daemon.store import Store

MIGRATIONS = [
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        agent TEXT,
        argv TEXT NOT NULL,
        cwd TEXT NOT NULL,
        env TEXT NOT NULL,
        cols INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        record INTEGER NOT NULL DEFAULT 0,
        auto_approve TEXT NOT NULL DEFAULT 'off',
        approval_id TEXT,
        state TEXT NOT NULL,
        holder_pid INTEGER,
        child_pid INTEGER,
        created REAL NOT NULL,
        started REAL,
        ended REAL,
        exit_reason TEXT,
        exit_code INTEGER,
        exit_signal INTEGER,
        start_offset INTEGER NOT NULL DEFAULT 0,
        end_offset INTEGER,
        created_by TEXT NOT NULL DEFAULT ''
    )
    """,
]


@dataclass
class SessionRow:
    id: str
    name: str
    agent: str | None
    argv: list[str]
    cwd: str
    env: dict[str, str] = field(repr=False)
    cols: int
    rows: int
    record: bool
    auto_approve: str
    approval_id: str | None
    state: str
    holder_pid: int | None
    child_pid: int | None
    created: float
    started: float | None
    ended: float | None
    exit_reason: str | None
    exit_code: int | None
    exit_signal: int | None
    start_offset: int
    end_offset: int | None
    created_by: str

    @classmethod
    def from_db(cls, row: sqlite3.Row) -> SessionRow:
        data = dict(row)
        data["argv"] = json.loads(data["argv"])
        data["env"] = json.loads(data["env"])
        data["record"] = bool(data["record"])
        return cls(**data)

    def to_db(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["argv"] = json.dumps(self.argv)
        data["env"] = json.dumps(self.env)
        data["record"] = int(self.record)
        return data


_COLUMNS = [f.name for f in fields(SessionRow)]


class SessionTable:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate("sessions", MIGRATIONS)

    def insert(self, row: SessionRow) -> None:
        names = ", ".join(_COLUMNS)
        marks = ", ".join(f":{c}" for c in _COLUMNS)
        self.store.execute(f"INSERT INTO sessions ({names}) VALUES ({marks})", row.to_db())  # noqa: S608

    def save(self, row: SessionRow) -> None:
        sets = ", ".join(f"{c} = :{c}" for c in _COLUMNS if c != "id")
        self.store.execute(f"UPDATE sessions SET {sets} WHERE id = :id", row.to_db())  # noqa: S608

    def get(self, session_id: str) -> SessionRow | None:
        row = self.store.one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return SessionRow.from_db(row) if row else None

    def by_name(self, name: str) -> SessionRow | None:
        row = self.store.one("SELECT * FROM sessions WHERE name = ?", (name,))
        return SessionRow.from_db(row) if row else None

    def all(self) -> list[SessionRow]:
        return [
            SessionRow.from_db(r)
            for r in self.store.all("SELECT * FROM sessions ORDER BY created, id")
        ]

    def names(self) -> set[str]:
        return {r["name"] for r in self.store.all("SELECT name FROM sessions")}

    def delete(self, session_id: str) -> None:
        self.store.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
