"""The learner's progress: every attempt in SQLite (``DATA_DIR/progress.sqlite3``), mastery, due reviews.

Each attempt is written in one transaction together with its item's summary and spaced-repetition
card (WAL journal), so a crash or kill leaves the whole attempt or none of it. Every query is scoped
to one learner id, so several learners share an installation without seeing each other's records.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.practice.models import LETTERS, PASS_SCORE, Feedback, Grade, InterviewQuestion, Question
from assistant.practice.schedule import RATING_SCORES, ReviewSchedule
from assistant.roadmap import Roadmap
from assistant.sqlite_db import connect

AttemptKind = Literal["quiz", "review", "interview"]
Rating = Literal["again", "hard", "good", "easy"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    learner_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    question_type TEXT NOT NULL,
    topic TEXT NOT NULL,
    stage INTEGER NOT NULL,
    question TEXT NOT NULL,
    response TEXT NOT NULL,
    correct INTEGER NOT NULL,
    score REAL NOT NULL,
    seconds REAL,
    answered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_learner ON attempts(learner_id, topic);
CREATE TABLE IF NOT EXISTS items (
    learner_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    question_type TEXT NOT NULL,
    topic TEXT NOT NULL,
    stage INTEGER NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_score REAL NOT NULL,
    last_at TEXT NOT NULL,
    card TEXT,
    due TEXT,
    PRIMARY KEY (learner_id, item_id)
);
CREATE INDEX IF NOT EXISTS items_due ON items(learner_id, due);
"""


class AttemptIn(BaseModel):
    """What a practice feature records after grading one answer."""

    item_id: str
    kind: AttemptKind
    question_type: str
    topic: str
    stage: int = -1
    question: str
    response: str
    correct: bool
    score: float = Field(ge=0, le=1)
    seconds: float | None = None
    payload: dict[str, Any] = Field(description="the full question, so it can be asked again in review")
    rating: Rating | None = None  # the learner's own (the app's buttons, `tutor review` on flashcards)


def quiz_attempt(question: Question, grade: Grade, *, review: bool = False, seconds: float | None = None) -> AttemptIn:
    return AttemptIn(
        item_id=question.id,
        kind="review" if review else "quiz",
        question_type=question.type,
        topic=question.topic or question.citation.doc_id,
        stage=question.stage,
        question=question.stem,
        response=grade.response,
        correct=grade.correct,
        score=grade.score,
        seconds=seconds,
        payload=question.model_dump(mode="json"),
    )


def rated_correct(item: DueItem, response: str, rating: Rating) -> bool:
    """An exact question keeps its own right or wrong; otherwise (flashcards, open questions) the rating says."""
    if item.kind != "interview":
        q = Question.model_validate(item.payload)
        if q.type == "mcq" and q.answer_index is not None:
            return response == LETTERS[q.answer_index]
        if q.type == "true-false":
            return response == q.answer
    return rating != "again"


def rated_attempt(item: DueItem, rating: Rating, response: str) -> AttemptIn:
    """A review the learner rated (again/hard/good/easy): the rating sets the score and the schedule."""
    question = item.payload.get("question") or item.payload.get("stem") or ""
    return AttemptIn(
        item_id=item.item_id,
        kind="review",
        question_type=item.question_type,
        topic=item.topic,
        stage=item.stage,
        question=str(question),
        response=response,
        correct=rated_correct(item, response, rating),
        score=RATING_SCORES[rating],
        payload=item.payload,
        rating=rating,
    )


def interview_attempt(
    question: InterviewQuestion,
    feedback: Feedback,
    response: str,
    *,
    review: bool = False,
    seconds: float | None = None,
) -> AttemptIn:
    return AttemptIn(
        item_id=question.id,
        kind="review" if review else "interview",
        question_type="interview",
        topic=question.topic,
        stage=question.sources[0].stage if question.sources else -1,
        question=question.question,
        response=response.strip(),
        correct=feedback.score >= PASS_SCORE,
        score=feedback.score,
        seconds=seconds,
        payload=question.model_dump(mode="json"),
    )


class Attempt(BaseModel):
    id: int
    learner_id: str
    item_id: str
    kind: AttemptKind
    question_type: str
    topic: str
    stage: int
    question: str
    response: str
    correct: bool
    score: float
    seconds: float | None
    answered_at: datetime


class TopicMastery(BaseModel):
    topic: str
    title: str
    stage: int
    items: int
    attempts: int
    mastery: float = Field(description="mean of each item's latest score, 0..1")


class StageMastery(BaseModel):
    stage: int
    id: str
    title: str
    topics: int
    topics_practised: int
    items: int
    mastery: float | None = Field(description="mean latest score of the stage's items; None when unpractised")


class DueItem(BaseModel):
    item_id: str
    kind: AttemptKind
    question_type: str
    topic: str
    stage: int
    due: datetime
    payload: dict[str, Any]


class PracticeItem(BaseModel):
    """One practised item as last answered (for export): the full question, its latest score, when due."""

    item_id: str
    kind: AttemptKind
    question_type: str
    topic: str
    stage: int
    last_score: float
    payload: dict[str, Any]
    due: datetime | None


class ProgressStore:
    def __init__(self, path: Path, learner_id: str, schedule: ReviewSchedule | None = None) -> None:
        self.path = path
        self.learner_id = learner_id
        self.schedule = schedule or ReviewSchedule()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with connect(self.path, "progress store", synchronous="FULL") as db:
            db.row_factory = sqlite3.Row
            yield db

    def record(self, attempt: AttemptIn, now: datetime | None = None) -> Attempt:
        """Store one attempt, its item summary and its review card in a single transaction."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                prior = db.execute(
                    "SELECT attempts, card FROM items WHERE learner_id = ? AND item_id = ?",
                    (self.learner_id, attempt.item_id),
                ).fetchone()
                card = self.schedule.review(
                    prior["card"] if prior else None,
                    card_id=int(attempt.item_id[:12], 16) if _is_hex(attempt.item_id[:12]) else 1,
                    question_type=attempt.question_type,
                    correct=attempt.correct,
                    score=attempt.score,
                    now=now,
                    rating=attempt.rating,
                )
                row = {
                    **attempt.model_dump(exclude={"payload", "rating"}),
                    "learner_id": self.learner_id,
                    "correct": int(attempt.correct),
                    "answered_at": _iso(now),
                }
                cur = db.execute(
                    f"INSERT INTO attempts ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})", row
                )
                db.execute(
                    """INSERT INTO items (learner_id, item_id, kind, question_type, topic, stage, payload,
                                          attempts, last_score, last_at, card, due)
                       VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
                       ON CONFLICT (learner_id, item_id) DO UPDATE SET
                           attempts = attempts + 1, last_score = excluded.last_score,
                           last_at = excluded.last_at, card = excluded.card, due = excluded.due""",
                    (
                        self.learner_id,
                        attempt.item_id,
                        "quiz" if attempt.kind == "review" else attempt.kind,
                        attempt.question_type,
                        attempt.topic,
                        attempt.stage,
                        json.dumps(attempt.payload, ensure_ascii=False),
                        attempt.score,
                        _iso(now),
                        card.to_json() if card else None,
                        _iso(card.due) if card else None,
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return Attempt(**{**row, "id": cur.lastrowid, "correct": attempt.correct, "answered_at": now})

    def add_cards(self, cards: list[Question], now: datetime | None = None) -> int:
        """Put new flashcards into the review schedule, due now; a card already there keeps its schedule.
        Returns how many were new."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        added = 0
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for q in cards:
                    card = self.schedule.new_card(int(q.id[:12], 16) if _is_hex(q.id[:12]) else 1, now)
                    cur = db.execute(
                        """INSERT INTO items (learner_id, item_id, kind, question_type, topic, stage, payload,
                                              attempts, last_score, last_at, card, due)
                           VALUES (?, ?, 'quiz', ?, ?, ?, ?, 0, 0, ?, ?, ?)
                           ON CONFLICT (learner_id, item_id) DO NOTHING""",
                        (
                            self.learner_id, q.id, q.type, q.topic or q.citation.doc_id, q.stage, q.model_dump_json(),
                            _iso(now), card.to_json(), _iso(card.due),
                        ),
                    )  # fmt: skip
                    added += cur.rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return added

    def attempts(self, limit: int | None = None) -> list[Attempt]:
        query = "SELECT * FROM attempts WHERE learner_id = ? ORDER BY id DESC"
        with self._connect() as db:
            rows = db.execute(query + (f" LIMIT {int(limit)}" if limit else ""), (self.learner_id,)).fetchall()
        return [Attempt.model_validate({**dict(r), "correct": bool(r["correct"])}) for r in rows]

    def items(self, *, stage: int | None = None, missed: bool = False) -> list[PracticeItem]:
        """The learner's practised items (the latest version of each), oldest first; ``missed``: only those
        spaced repetition schedules (answered wrong or weakly at least once and not yet mastered)."""
        query = "SELECT * FROM items WHERE learner_id = ?"
        args: list[object] = [self.learner_id]
        if stage is not None:
            query += " AND stage = ?"
            args.append(stage)
        if missed:
            query += " AND due IS NOT NULL"
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY last_at, item_id", args).fetchall()
        return [
            PracticeItem(
                **{k: r[k] for k in ("item_id", "kind", "question_type", "topic", "stage", "last_score")},
                payload=json.loads(r["payload"]),
                due=datetime.fromisoformat(r["due"]) if r["due"] else None,
            )
            for r in rows
        ]

    def _items(self) -> list[sqlite3.Row]:
        """Items answered at least once (a flashcard not yet reviewed says nothing about mastery)."""
        with self._connect() as db:
            return db.execute(
                "SELECT * FROM items WHERE learner_id = ? AND attempts > 0", (self.learner_id,)
            ).fetchall()

    def topic_mastery(self, roadmap: Roadmap | None = None) -> list[TopicMastery]:
        """Per topic: the mean of each item's latest score, weakest first."""
        groups: dict[str, list[sqlite3.Row]] = defaultdict(list)
        for item in self._items():
            groups[item["topic"]].append(item)
        found = [
            TopicMastery(
                topic=topic,
                title=roadmap.topic_title(topic) if roadmap else topic,
                stage=rows[0]["stage"],
                items=len(rows),
                attempts=sum(r["attempts"] for r in rows),
                mastery=round(sum(r["last_score"] for r in rows) / len(rows), 3),
            )
            for topic, rows in groups.items()
        ]
        return sorted(found, key=lambda t: (t.mastery, t.stage, t.topic))

    def stage_mastery(self, roadmap: Roadmap) -> list[StageMastery]:
        """Every roadmap stage in order, with how much of it the learner has practised and how well."""
        by_stage: dict[int, list[sqlite3.Row]] = defaultdict(list)
        for item in self._items():
            by_stage[item["stage"]].append(item)
        out = []
        for s in roadmap.stages:
            rows = by_stage.get(s.stage, [])
            out.append(
                StageMastery(
                    stage=s.stage,
                    id=s.id,
                    title=s.title,
                    topics=len(s.topics),
                    topics_practised=len({r["topic"] for r in rows} & set(s.topics)),
                    items=len(rows),
                    mastery=round(sum(r["last_score"] for r in rows) / len(rows), 3) if rows else None,
                )
            )
        return out

    def due(self, now: datetime | None = None, ahead: timedelta = timedelta(0)) -> list[DueItem]:
        """Scheduled items due by ``now + ahead``, earliest first."""
        limit = _iso((now or datetime.now(UTC)) + ahead)
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM items WHERE learner_id = ? AND due IS NOT NULL AND due <= ? ORDER BY due",
                (self.learner_id, limit),
            ).fetchall()
        return [_due_item(r) for r in rows]

    def due_at(self, item_id: str) -> datetime | None:
        """When this item is next due; None when it is not scheduled."""
        with self._connect() as db:
            row = db.execute(
                "SELECT due FROM items WHERE learner_id = ? AND item_id = ?", (self.learner_id, item_id)
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def next_due(self) -> datetime | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT MIN(due) FROM items WHERE learner_id = ? AND due IS NOT NULL", (self.learner_id,)
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def scheduled(self) -> int:
        with self._connect() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM items WHERE learner_id = ? AND due IS NOT NULL", (self.learner_id,)
            ).fetchone()
        return int(row[0])


def _iso(moment: datetime) -> str:
    """UTC, fixed width, so that text order is time order in SQL comparisons."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text)


def _due_item(row: sqlite3.Row) -> DueItem:
    return DueItem(
        item_id=row["item_id"],
        kind=row["kind"],
        question_type=row["question_type"],
        topic=row["topic"],
        stage=row["stage"],
        due=datetime.fromisoformat(row["due"]),
        payload=json.loads(row["payload"]),
    )
