"""What the model is asked to produce: small, flat schemas for schema-constrained generation.

Question drafts carry no evidence and no explanation: we choose the key sentence of the source the
question must be about (``sources.key_sentences``), verify which sentence of the cited chunk states
the key, and show that sentence as the explanation. The evidence is then guaranteed to be in the
chunk, nothing unverified is shown as an explanation, and the small model spends its few tokens per
second on the question. Field order matters (llama.cpp's grammar emits
properties in schema order). Length limits are checked after parsing (in ``verify``) rather than in
the schema, because ``maxLength`` turns into very large grammars.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class McqDraft(BaseModel):
    question: str
    correct_answer: str
    wrong_answers: list[str] = Field(min_length=3, max_length=4)  # four asked; the three that fit are kept


class TrueFalseDraft(BaseModel):
    statement: str
    is_true: bool


class ShortDraft(BaseModel):
    question: str
    answer: str = Field(description="the expected answer in one sentence")


class McqCheck(BaseModel):
    choice: Literal["A", "B", "C", "D", "none"]


class TrueFalseCheck(BaseModel):
    verdict: Literal["true", "false", "not stated"]


class ShortCheck(BaseModel):
    verdict: Literal["supported", "not supported"]


class KeyJudgement(BaseModel):
    verdict: Literal["correct", "incorrect"]


class GradeDraft(BaseModel):
    missing: list[str] = Field(max_length=4, description="key ideas of the expected answer the learner left out")
    score: int = Field(ge=0, le=10)
    feedback: str


# The rubric is chosen, not written: numbers of source statements, so every point is grounded. (A comment,
# not a docstring: pydantic would put a docstring into the schema the model is sent.)
class InterviewDraft(BaseModel):
    question: str
    key_points: list[int] = Field(
        min_length=3, max_length=5, description="numbers of the statements a strong answer covers"
    )


class FeedbackDraft(BaseModel):
    covered_points: list[int] = Field(description="numbers of the rubric points the answer covers")
    comment: str
    follow_up_question: str


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent to the model (pydantic's, which llama.cpp turns into a grammar)."""
    return model.model_json_schema()


class FlashcardDraft(BaseModel):
    front: str = Field(description="a short question whose full answer is the statement")
