"""A learner's chat conversations, kept in SQLite in the data folder so they survive reloads and restarts.

A conversation is a titled list of turns; a turn is what the chat page shows (role, text) plus what it
needs to show it again (the checked answer with its sources, the footer, a warning). Export gives
Markdown with each answer's numbered sources.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.errors import TutorError
from assistant.sqlite_db import connect

TITLE_CHARS = 60
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    learner_id TEXT NOT NULL,
    title TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_learner ON conversations (learner_id, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    turn TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
"""


class Conversation(BaseModel):
    id: str
    title: str
    created: datetime
    updated: datetime
    turns: list[dict[str, Any]] = Field(default_factory=list)


def title_of(question: str) -> str:
    """A conversation's first title: its first question, shortened at a word."""
    text = " ".join(question.split())
    if len(text) <= TITLE_CHARS:
        return text or "New chat"
    return text[:TITLE_CHARS].rsplit(" ", 1)[0] + "..."


class ConversationStore:
    def __init__(self, path: Path, learner_id: str) -> None:
        self.path = path
        self.learner_id = learner_id
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with connect(self.path, "chat history") as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            yield db

    def create(self, title: str = "New chat", now: datetime | None = None) -> Conversation:
        stamp = (now or datetime.now(UTC)).isoformat()
        conversation_id = uuid.uuid4().hex
        with self._connect() as db:
            db.execute(
                "INSERT INTO conversations (id, learner_id, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, self.learner_id, title, stamp, stamp),
            )
        return self.get(conversation_id)

    def recent(self) -> list[Conversation]:
        """This learner's conversations, most recently used first (turns not loaded)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, title, created, updated FROM conversations WHERE learner_id = ? ORDER BY updated DESC",
                (self.learner_id,),
            ).fetchall()
        return [Conversation(**dict(r)) for r in rows]

    def get(self, conversation_id: str) -> Conversation:
        with self._connect() as db:
            row = db.execute(
                "SELECT id, title, created, updated FROM conversations WHERE id = ? AND learner_id = ?",
                (conversation_id, self.learner_id),
            ).fetchone()
            if row is None:
                raise TutorError("That conversation no longer exists.", "pick another one or start a new chat.")
            turns = db.execute(
                "SELECT turn FROM turns WHERE conversation_id = ? ORDER BY seq", (conversation_id,)
            ).fetchall()
        return Conversation(**dict(row), turns=[json.loads(t["turn"]) for t in turns])

    def add_turns(self, conversation_id: str, turns: list[dict[str, Any]], now: datetime | None = None) -> None:
        """Append ``turns`` (a question and its answer, together) in one transaction."""
        stamp = (now or datetime.now(UTC)).isoformat()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                (last,) = db.execute(
                    "SELECT COALESCE(MAX(seq), -1) FROM turns WHERE conversation_id = ?", (conversation_id,)
                ).fetchone()
                db.executemany(
                    "INSERT INTO turns (conversation_id, seq, turn) VALUES (?, ?, ?)",
                    [(conversation_id, last + 1 + i, json.dumps(t, ensure_ascii=False)) for i, t in enumerate(turns)],
                )
                db.execute(
                    "UPDATE conversations SET updated = ? WHERE id = ? AND learner_id = ?",
                    (stamp, conversation_id, self.learner_id),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def rename(self, conversation_id: str, title: str) -> None:
        title = " ".join(title.split())[:120]
        if not title:
            raise TutorError("A conversation needs a title.", "type a few words.")
        with self._connect() as db:
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND learner_id = ?",
                (title, conversation_id, self.learner_id),
            )

    def delete(self, conversation_id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM conversations WHERE id = ? AND learner_id = ?", (conversation_id, self.learner_id))


def to_markdown(conversation: Conversation) -> str:
    """The conversation as Markdown: each question, each answer with its numbered sources."""
    lines = [f"# {conversation.title}", "", f"Exported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from roadmap-tutor.", ""]
    for turn in conversation.turns:
        if turn.get("role") == "user":
            lines += [f"**You:** {turn.get('content', '')}", ""]
            continue
        lines += [f"**Tutor:** {turn.get('content', '')}", ""]
        if turn.get("warning"):
            lines += [f"> {turn['warning']}", ""]
        cited = (turn.get("answer") or {}).get("citations") or []
        for c in cited:
            where = c.get("heading_path") or c.get("title") or ""
            url = f" <{c['url']}>" if c.get("url") else ""
            lines.append(f"- [{c.get('n')}] {c.get('source')} — {where}{url}")
        if cited:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
