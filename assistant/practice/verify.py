"""Verification before a question is shown: deterministic checks, a separate key check, shuffling.

Each draft is written about one key sentence of its chunk (the evidence). It is dropped, with a
reason, when that evidence is not in the cited chunk, its answer is not grounded in that chunk, its
options are ambiguous, it repeats an earlier question, or an independent check call, answering from
the cited chunk alone, does not arrive at the same key. The correct option's position is chosen by
us, after generation and checking, from shuffled blocks of A-D so that it is uniform over A-D and
balanced within a quiz.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from rapidfuzz import fuzz

from assistant.errors import StructuredOutputError
from assistant.llm.base import ChatModel
from assistant.practice.drafts import McqCheck, McqDraft, ShortCheck, ShortDraft, TrueFalseCheck, TrueFalseDraft
from assistant.practice.models import LETTERS, Question
from assistant.practice.prompts import mcq_check_messages, short_check_messages, true_false_check_messages
from assistant.practice.sources import key_sentences
from assistant.practice.structured import Meter, complete_structured
from assistant.text import words as text_words

Draft = McqDraft | TrueFalseDraft | ShortDraft

EVIDENCE_MATCH = 90  # rapidfuzz partial_ratio: the quote must be (nearly) verbatim in the chunk
DUPLICATE_MATCH = 85  # token_sort_ratio between two stems (normalised text)
ANSWER_GROUNDING = 0.5  # share of the key's content words that its evidence sentence must contain
GIVEAWAY = 0.8  # share of the key's content words already in the question: the question gives it away
MAX_STEM_CHARS = 500
MAX_OPTION_CHARS = 200
CATCH_ALL = re.compile(r"\b(all|none|both|neither) of (the|these|them)\b|\b[a-d] and [a-d]\b", re.IGNORECASE)


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9.%+-]+", " ", text.lower()).split())


def content_words(text: str) -> list[str]:
    """The shared stopword list applied, words as written, two-character terms kept ("ml", "l2" matter)."""
    return text_words(text, min_len=2)


def word_stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word


def grounding(answer: str, source_text: str) -> float:
    """Share of the answer's content words (compared by prefix) that occur in the source."""
    words = content_words(answer)
    if not words:
        return 0.0
    present = {word_stem(w) for w in content_words(source_text)}
    return sum(word_stem(w) in present for w in words) / len(words)


def same_option_key(option: str) -> str:
    """Options with the same words (punctuation, order and word endings aside) say the same thing."""
    words = sorted({word_stem(w) for w in re.findall(r"[a-z0-9]+", option.lower())})
    return " ".join(words) or normalize(option)


def evidence_in(evidence: str, source_text: str) -> bool:
    quote = normalize(evidence)
    return len(quote.split()) >= 4 and fuzz.partial_ratio(quote, normalize(source_text)) >= EVIDENCE_MATCH


def is_duplicate(stem: str, answer: str, chunk_id: str, accepted: list[Question]) -> bool:
    for q in accepted:
        if fuzz.token_sort_ratio(normalize(stem), normalize(q.stem)) >= DUPLICATE_MATCH:
            return True
        if q.citation.chunk_id == chunk_id and normalize(q.answer) == normalize(answer):
            return True
    return False


def stem_and_key(draft: Draft) -> tuple[str, str]:
    if isinstance(draft, McqDraft):
        return draft.question.strip(), draft.correct_answer.strip()
    if isinstance(draft, TrueFalseDraft):
        return draft.statement.strip(), "True" if draft.is_true else "False"
    return draft.question.strip(), draft.answer.strip()


def supporting_sentence(claim: str, anchor: str, source_text: str) -> str | None:
    """The sentence of the chunk that states ``claim``: the anchor when it does, else the best other one."""
    if grounding(claim, anchor) >= ANSWER_GROUNDING:
        return anchor
    scored = [(grounding(claim, s), s) for s in key_sentences(source_text, min_words=4)]
    best = max(scored, default=(0.0, ""))
    return best[1] if best[0] >= ANSWER_GROUNDING else None


def verify_draft(
    draft: Draft, anchor: str, source_text: str, chunk_id: str, accepted: list[Question]
) -> tuple[str | None, str]:
    """(the first deterministic reason to drop ``draft`` or None, the evidence sentence for its key)."""
    stem, key = stem_and_key(draft)
    if not stem or len(stem) > MAX_STEM_CHARS or not key:
        return "malformed-question", anchor
    if isinstance(draft, McqDraft):
        options = [draft.correct_answer, *draft.wrong_answers]
        if any(not o.strip() or len(o) > MAX_OPTION_CHARS for o in options):
            return "malformed-question", anchor
        if any(CATCH_ALL.search(o) for o in options):
            return "ambiguous-options", anchor
        if len({same_option_key(o) for o in options}) < len(options):
            return "ambiguous-options", anchor
    # The claim the evidence must state: the key, or for true/false the statement itself.
    claim = stem if isinstance(draft, TrueFalseDraft) else key
    evidence = supporting_sentence(claim, anchor, source_text)
    if evidence is None or not evidence_in(evidence, source_text):
        return "answer-not-in-source", anchor
    if not isinstance(draft, TrueFalseDraft) and grounding(key, stem) >= GIVEAWAY:
        return "answer-in-question", evidence
    if is_duplicate(stem, key, chunk_id, accepted):
        return "duplicate", evidence
    return None, evidence


class Positions:
    """Correct-option positions: shuffled blocks of 0..3, so each is uniform and a quiz is balanced."""

    def __init__(self, rng: random.Random, size: int = len(LETTERS)) -> None:
        self._rng = rng
        self._size = size
        self._block: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        if not self._block:
            self._block = list(range(self._size))
            self._rng.shuffle(self._block)
        return self._block.pop()


def arrange(correct: str, wrong: list[str], position: int, rng: random.Random) -> list[str]:
    """Options with ``correct`` at ``position`` and the wrong ones shuffled around it."""
    others = [w.strip() for w in wrong]
    rng.shuffle(others)
    others.insert(position, correct.strip())
    return others


class KeyChecker:
    """The separate check call: answer the finished question from its cited chunk alone."""

    def __init__(self, llm: ChatModel, *, attempts: int = 2) -> None:
        self.llm = llm
        self.attempts = attempts

    def check(self, question: Question, meter: Meter | None = None) -> str | None:
        """None when the checker reaches the same key; otherwise the reason to drop."""
        try:
            if question.type == "mcq":
                mcq = complete_structured(
                    self.llm,
                    mcq_check_messages(question.source_text, question.stem, question.options),
                    McqCheck,
                    what="key check",
                    max_tokens=24,
                    attempts=self.attempts,
                    temperature=0.0,
                    meter=meter,
                )
                if mcq.choice == "none":
                    return "checker-found-no-answer"
                return None if mcq.choice == question.key else "checker-disagreed"
            if question.type == "true-false":
                tf = complete_structured(
                    self.llm,
                    true_false_check_messages(question.source_text, question.stem),
                    TrueFalseCheck,
                    what="key check",
                    max_tokens=24,
                    attempts=self.attempts,
                    temperature=0.0,
                    meter=meter,
                )
                if tf.verdict == "not stated":
                    return "checker-found-no-answer"
                return None if (tf.verdict == "true") == (question.answer == "True") else "checker-disagreed"
            short = complete_structured(
                self.llm,
                short_check_messages(question.source_text, question.stem, question.answer),
                ShortCheck,
                what="key check",
                max_tokens=24,
                attempts=self.attempts,
                temperature=0.0,
                meter=meter,
            )
            return None if short.verdict == "supported" else "checker-disagreed"
        except StructuredOutputError:
            return "check-output-unusable"
