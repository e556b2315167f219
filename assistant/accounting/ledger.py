"""The cost ledger: one SQLite row per model call, safe with many threads and processes.

Each row is written in its own transaction (WAL journal), so a crash or kill leaves either the
whole row or nothing. The ledger holds counts, prices and timings only: never prompts, answers or
keys.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

Feature = Literal["chat", "quiz", "interview", "grading", "ingest", "eval", "other"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    learner_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_prompt_tokens INTEGER NOT NULL,
    usage_source TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls(ts);
CREATE INDEX IF NOT EXISTS calls_session ON calls(session_id);
"""


class LedgerRow(BaseModel):
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    learner_id: str
    session_id: str
    feature: Feature
    provider: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    usage_source: str = "provider"
    cost_usd: float = 0.0
    latency_s: float = 0.0
    ok: bool = True
    error: str | None = None  # the error's class name only


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()

    def record(self, row: LedgerRow) -> None:
        data = row.model_dump()
        data["ts"] = row.ts.isoformat()
        data["ok"] = int(row.ok)
        cols = ", ".join(data)
        marks = ", ".join(f":{k}" for k in data)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"INSERT INTO calls ({cols}) VALUES ({marks})", data)
            db.execute("COMMIT")

    def rows(self, since: datetime | None = None) -> list[LedgerRow]:
        query = "SELECT * FROM calls"
        args: tuple[str, ...] = ()
        if since is not None:
            query += " WHERE ts >= ?"
            args = (since.isoformat(),)
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            found = db.execute(query + " ORDER BY id", args).fetchall()
        return [LedgerRow.model_validate(dict(r)) for r in found]

    def spent(self, *, session_id: str | None = None, since: datetime | None = None) -> float:
        query, args = "SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE 1=1", []
        if session_id is not None:
            query += " AND session_id = ?"
            args.append(session_id)
        if since is not None:
            query += " AND ts >= ?"
            args.append(since.isoformat())
        with self._connect() as db:
            return float(db.execute(query, args).fetchone()[0])
