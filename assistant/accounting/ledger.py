"""The cost ledger: one SQLite row per model call, safe with many threads and processes.

Each row is written in its own transaction (WAL journal), so a crash or kill leaves either the
whole row or nothing. The ledger holds counts, prices and timings only: never prompts, answers or
keys. Times are stored as UTC ISO strings, so a day is a UTC day everywhere (reports and caps).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from assistant.sqlite_db import connect

Feature = Literal["chat", "quiz", "flashcards", "interview", "grading", "ingest", "eval", "other"]
CallKind = Literal["chat", "embedding"]
GroupBy = Literal["day", "feature", "model"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

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
    error TEXT,
    kind TEXT NOT NULL DEFAULT 'chat'
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls(ts);
CREATE INDEX IF NOT EXISTS calls_session ON calls(session_id);
"""

# Grouping keys for reports: fixed SQL expressions, never built from user input.
GROUP_SQL: dict[GroupBy, str] = {
    "day": "substr(ts, 1, 10)",
    "feature": "feature",
    "model": "provider || '/' || model",
}
TOTALS_SQL = """
SELECT {key} AS key,
       COALESCE(SUM(kind = 'chat'), 0) AS calls,
       COALESCE(SUM(kind = 'embedding'), 0) AS embedding_calls,
       COALESCE(SUM(ok = 0), 0) AS failed,
       COALESCE(SUM(CASE WHEN kind = 'chat' THEN prompt_tokens ELSE 0 END), 0) AS prompt_tokens,
       COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
       COALESCE(SUM(cached_prompt_tokens), 0) AS cached_prompt_tokens,
       COALESCE(SUM(CASE WHEN kind = 'embedding' THEN prompt_tokens ELSE 0 END), 0) AS embedding_tokens,
       COALESCE(SUM(cost_usd), 0) AS cost_usd,
       COALESCE(SUM(latency_s), 0) AS latency_s
FROM calls WHERE {where} {group}
"""


def utc_iso(moment: datetime) -> str:
    """The stored form of a time: UTC ISO 8601 (naive times are taken as local time)."""
    return moment.astimezone(UTC).isoformat()


def utc_midnight(now: datetime | None = None) -> datetime:
    """The start of the current UTC day: the daily cap and "today" in reports start here."""
    return (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class LedgerRow(BaseModel):
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    learner_id: str
    session_id: str
    feature: Feature
    provider: str
    model: str
    kind: CallKind = "chat"
    prompt_tokens: int = 0  # for embedding calls: the tokens embedded
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    usage_source: str = "provider"
    cost_usd: float = 0.0
    latency_s: float = 0.0
    ok: bool = True
    error: str | None = None  # the error's class name only

    @field_validator("provider", "model", "error")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        """Model names come from the server: no control characters (terminal escapes), bounded length."""
        return None if value is None else _CONTROL.sub("?", value)[:200]


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)
            self._migrate(db)

    @classmethod
    def if_exists(cls, path: Path) -> Ledger | None:
        """The ledger at ``path`` when one was written; None instead of creating an empty one."""
        return cls(path) if path.is_file() else None

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Ledgers written before embedding calls were recorded lack the ``kind`` column."""
        if "kind" in {r[1] for r in db.execute("PRAGMA table_info(calls)")}:
            return
        try:
            db.execute("ALTER TABLE calls ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat'")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with connect(self.path, "cost ledger", synchronous="NORMAL") as db:
            yield db

    def record(self, row: LedgerRow) -> None:
        data = row.model_dump()
        data["ts"] = utc_iso(row.ts)
        data["ok"] = int(row.ok)
        cols = ", ".join(data)
        marks = ", ".join(f":{k}" for k in data)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"INSERT INTO calls ({cols}) VALUES ({marks})", data)
            db.execute("COMMIT")

    @staticmethod
    def _where(
        since: datetime | None, until: datetime | None, session_id: str | None, learner_id: str | None
    ) -> tuple[str, list[str]]:
        clauses, args = ["1=1"], []
        if since is not None:
            clauses.append("ts >= ?")
            args.append(utc_iso(since))
        if until is not None:
            clauses.append("ts < ?")
            args.append(utc_iso(until))
        if session_id is not None:
            clauses.append("session_id = ?")
            args.append(session_id)
        if learner_id is not None:
            clauses.append("learner_id = ?")
            args.append(learner_id)
        return " AND ".join(clauses), args

    def rows(self, since: datetime | None = None, *, kind: CallKind | None = None) -> list[LedgerRow]:
        where, args = self._where(since, None, None, None)
        if kind is not None:
            where += " AND kind = ?"
            args.append(kind)
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            found = db.execute(f"SELECT * FROM calls WHERE {where} ORDER BY id", args).fetchall()
        return [LedgerRow.model_validate(dict(r)) for r in found]

    def spent(self, *, session_id: str | None = None, since: datetime | None = None) -> float:
        where, args = self._where(since, None, session_id, None)
        with self._connect() as db:
            return float(db.execute(f"SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE {where}", args).fetchone()[0])

    def totals(
        self,
        by: GroupBy | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
        learner_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Sums per group (or one overall row when ``by`` is None), ordered by key."""
        where, args = self._where(since, until, session_id, learner_id)
        key = GROUP_SQL[by] if by else "'total'"
        group = "GROUP BY 1 ORDER BY 1" if by else ""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            found = db.execute(TOTALS_SQL.format(key=key, where=where, group=group), args).fetchall()
        return [dict(r) for r in found]
