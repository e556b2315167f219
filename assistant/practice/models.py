"""Practice records: questions, quizzes, grades, interview questions and feedback.

These are the boundaries the CLI, the web pages and the progress store share. What the model is
asked to produce (smaller, flatter schemas) lives in ``drafts.py``; these are built from drafts
after verification.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field

QuestionType = Literal["mcq", "true-false", "short"]  # what a quiz asks
ItemType = Literal["mcq", "true-false", "short", "flashcard"]  # a flashcard: front (stem) and back (answer)
QuizLevel = Literal["beginner", "intermediate", "advanced"]
InterviewLevel = Literal["junior", "mid", "senior"]
InterviewKind = Literal["conceptual", "applied", "system-design", "behavioural"]
GradedBy = Literal["exact", "model", "overlap", "empty"]
FeedbackBy = Literal["model", "overlap", "empty"]
LETTERS = "ABCD"
PASS_SCORE = 0.6  # a graded short answer at or above this counts as correct


def stable_id(*parts: str) -> str:
    """A short id that stays the same for the same question text (the progress store keys on it)."""
    return hashlib.sha1("\x1f".join(p.strip().lower() for p in parts).encode()).hexdigest()[:16]


class SourceRef(BaseModel):
    """The roadmap chunk a question (or rubric point) comes from."""

    chunk_id: str
    source: str = Field(description="file, e.g. knowledge/05-classic-ml.md")
    heading_path: str
    doc_id: str = ""
    stage: int = -1
    topic: str = Field("", description="roadmap topic id of the chunk's section, when it has one")

    @property
    def label(self) -> str:
        return f"{self.source} — {self.heading_path}"


class Citation(SourceRef):
    evidence: str = Field("", description="the sentence of the chunk that supports the answer key")


class Question(BaseModel):
    id: str
    type: ItemType
    stem: str
    options: list[str] = Field(default_factory=list, description="MCQ: 4 options; true-false: True, False")
    answer_index: int | None = Field(None, description="index of the correct option (MCQ, true-false)")
    answer: str = Field(description="the answer key as text")
    explanation: str
    citation: Citation
    source_text: str = Field(description="the cited chunk, kept so grading and review need no retrieval")
    level: QuizLevel | None = None

    @property
    def key(self) -> str:
        """What the learner must type: a letter for MCQ, True/False, or the key text."""
        if self.type == "mcq" and self.answer_index is not None:
            return LETTERS[self.answer_index]
        return self.answer

    @property
    def topic(self) -> str:
        return self.citation.topic

    @property
    def stage(self) -> int:
        return self.citation.stage


class Usage(BaseModel):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


class Drafted(BaseModel):
    """What one generation run reports beside its items: asked, drafted, dropped and why, cost, a note."""

    requested: int
    generated: int = Field(description="drafts produced by the model (after repair)")
    dropped: int = Field(description="drafts rejected by verification or unusable output")
    drop_reasons: dict[str, int] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    note: str = ""


class Quiz(Drafted):
    topic: str
    stage: int | None = None
    type: QuestionType
    level: QuizLevel | None = None
    questions: list[Question]


class Deck(Drafted):
    """Flashcards on one topic: each a question (``stem``) on the front and a roadmap sentence on the back."""

    topic: str
    cards: list[Question]


class Grade(BaseModel):
    question_id: str
    response: str
    correct: bool
    score: float = Field(ge=0, le=1)
    expected: str
    missing: list[str] = Field(default_factory=list)
    feedback: str = ""
    reread: str = Field(description="the source to re-read: file — heading path")
    graded_by: GradedBy


class InterviewQuestion(BaseModel):
    id: str
    level: InterviewLevel
    kind: InterviewKind
    topic: str
    question: str
    rubric: list[str] = Field(description="key points a strong answer covers")
    sources: list[SourceRef]
    source_texts: list[str] = Field(default_factory=list, description="the cited chunks, for feedback")


class InterviewSet(Drafted):
    level: InterviewLevel
    topic: str | None = None
    kind: InterviewKind | None = None
    questions: list[InterviewQuestion]


class Feedback(BaseModel):
    question_id: str
    score: float = Field(ge=0, le=1, description="share of rubric points the answer covered")
    covered: list[str]
    missing: list[str]
    comment: str
    follow_up: str = Field(description="a follow-up question an interviewer would ask next")
    sources: list[SourceRef]
    graded_by: FeedbackBy
