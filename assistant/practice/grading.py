"""Grading: multiple choice and true/false exactly; short answers against the key and the cited chunk.

Short answers are scored by the model (what was missing, a score, the source to re-read). When its
output stays unusable after the bounded retries, the grade falls back to the share of the key's
content words the answer mentions, so grading never fails on malformed output. Empty answers score
0 without a call; absurdly long ones are refused with a one-line fix.
"""

from __future__ import annotations

import re

from assistant.errors import StructuredOutputError, TutorError
from assistant.llm.base import ChatModel
from assistant.practice.drafts import GradeDraft
from assistant.practice.models import LETTERS, PASS_SCORE, Grade, GradedBy, Question
from assistant.practice.prompts import grade_messages
from assistant.practice.structured import Meter, complete_structured
from assistant.practice.verify import content_words, normalize, word_stem

MAX_RESPONSE_CHARS = 3000
_LETTER = re.compile(r"^\(?([A-Da-d])\)?(?:[).:\s]|$)")
_TRUE = {"t", "true", "yes", "y"}
_FALSE = {"f", "false", "no", "n"}


class AnswerError(TutorError):
    """The learner's answer cannot be graded as given (wrong form or too long)."""


def check_length(response: str) -> str:
    text = response.strip()
    if len(text) > MAX_RESPONSE_CHARS:
        raise AnswerError(
            f"The answer is {len(text)} characters long; the limit is {MAX_RESPONSE_CHARS}.",
            "shorten it to the key points.",
        )
    return text


def choice_index(question: Question, response: str) -> int:
    """The option the learner picked: a letter, or the option's text; AnswerError otherwise."""
    text = response.strip()
    if question.type == "true-false":
        word = text.lower().rstrip(".")
        if word in _TRUE:
            return 0
        if word in _FALSE:
            return 1
    match = _LETTER.match(text)
    if match and LETTERS.index(match.group(1).upper()) < len(question.options):
        return LETTERS.index(match.group(1).upper())
    for i, option in enumerate(question.options):
        if normalize(option) == normalize(text):
            return i
    letters = ", ".join(LETTERS[: len(question.options)])
    hint = "true or false (or A, B)" if question.type == "true-false" else f"one of {letters}"
    raise AnswerError(f"'{text[:40]}' is not one of the options.", f"answer with {hint}.")


def overlap_score(expected: str, response: str) -> tuple[float, list[str]]:
    """Share of the key's content words the response mentions, and the ones it leaves out."""
    words = list(dict.fromkeys(content_words(expected)))
    if not words:
        return 0.0, []
    said = {word_stem(w) for w in content_words(response)}
    missing = [w for w in words if word_stem(w) not in said]
    return 1 - len(missing) / len(words), missing


class Grader:
    def __init__(self, llm: ChatModel, *, attempts: int = 2) -> None:
        self.llm = llm
        self.attempts = attempts

    def grade(self, question: Question, response: str, meter: Meter | None = None) -> Grade:
        text = check_length(response)
        expected = question.answer if question.type == "short" else f"{question.key}) {question.answer}"

        def result(score: float, by: GradedBy, feedback: str, missing: list[str] | None = None) -> Grade:
            return Grade(
                question_id=question.id,
                response=text,
                correct=score >= PASS_SCORE,
                score=round(score, 2),
                expected=expected,
                missing=missing or [],
                feedback=feedback,
                reread=question.citation.label,
                graded_by=by,
            )

        if not text:
            return result(0.0, "empty", "No answer given.", [question.answer])
        if question.type != "short":
            right = choice_index(question, text) == question.answer_index
            return result(1.0 if right else 0.0, "exact", question.explanation)
        try:
            draft = complete_structured(
                self.llm,
                grade_messages(question.source_text, question.stem, question.answer, text),
                GradeDraft,
                what="grade",
                max_tokens=220,
                attempts=self.attempts,
                temperature=0.0,
                meter=meter,
            )
        except StructuredOutputError:
            score, missing = overlap_score(question.answer, text)
            return result(
                score,
                "overlap",
                "Scored by word overlap with the expected answer (the model's grade was unusable).",
                missing,
            )
        missing = [m.strip() for m in draft.missing if m.strip()]
        return result(max(0, min(10, draft.score)) / 10, "model", draft.feedback.strip(), missing)
