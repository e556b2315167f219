"""Quizzes built from retrieved roadmap chunks only, verified before they are shown.

``QuizService.plan`` retrieves the material (or says there is none, with the nearest topics) and
estimates the cost; ``generate`` drafts one question per call from one chunk with schema-constrained
output, verifies each (``verify``), regenerates within a bound, and reports what was dropped and why.
"""

from __future__ import annotations

import random
from collections import Counter

from pydantic import BaseModel, ConfigDict, Field

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.estimate import CostEstimate, CostEstimator, enforce_max_cost
from assistant.errors import StructuredOutputError, TutorError
from assistant.llm.base import Message
from assistant.practice.drafting import DraftingLoop, Progress
from assistant.practice.drafts import KeyJudgement, McqCheck, McqDraft, ShortDraft, TrueFalseDraft, schema_of
from assistant.practice.grading import Grader
from assistant.practice.models import Grade, Question, QuestionType, Quiz, QuizLevel, stable_id
from assistant.practice.prompts import (
    REPAIR_HINTS,
    key_judgement_messages,
    mcq_check_messages,
    quiz_messages,
    repair_messages,
)
from assistant.practice.sources import (
    citation_of,
    find_material,
    key_sentences,
    neighbouring_material,
    stands_alone,
    topic_label,
)
from assistant.practice.structured import Meter, complete_structured
from assistant.practice.verify import (
    Draft,
    KeyChecker,
    Positions,
    arrange,
    stem_and_key,
    supporting_sentence,
    tidy_options,
    verify_draft,
)
from assistant.rag.retrieval import RetrievedChunk, Retriever
from assistant.roadmap import Roadmap

MAX_QUESTIONS = 20
DRAFT_TOKENS = 240
CHECK_TOKENS = 24
DRAFT_ATTEMPTS = 2  # calls per draft: the first, plus one repair retry
REPAIR_TEMPERATURE = 0.7
EXTRA_DRAFTS = 2.5  # regeneration budget: up to n * (1 + EXTRA_DRAFTS) drafts, at least n + 2 (measured on
# the 1.5B model, embedded and behind llama.cpp's server: about half the drafts dropped, so 2n and 2.5n fell
# short: at p=0.5 a 2-item quiz misses with 5 drafts 19% of the time, with 7 drafts 6%)

DRAFTS: dict[QuestionType, type[Draft]] = {"mcq": McqDraft, "true-false": TrueFalseDraft, "short": ShortDraft}


class QuizRequest(BaseModel):
    topic: str | None = None
    stage: int | None = None
    n: int = Field(5, ge=1, le=MAX_QUESTIONS)
    type: QuestionType = "mcq"
    level: QuizLevel | None = None


class QuizPlan(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    request: QuizRequest
    topic: str  # what the questions are about, as shown to the learner and the model
    chunks: list[RetrievedChunk]
    estimate: CostEstimate


def max_drafts(n: int) -> int:
    return max(n + 2, round(n * (1 + EXTRA_DRAFTS)))


def anchors(chunks: list[RetrievedChunk]) -> list[tuple[RetrievedChunk, str]]:
    """(chunk, key sentence) pairs, best chunk first and round-robin over chunks, each sentence once."""
    per_chunk = [[(c, s) for s in key_sentences(c.text) if stands_alone(s)] for c in chunks]
    if not any(per_chunk):  # no sentence stands alone anywhere: the best chunk's opening, as a last resort
        return [(chunks[0], chunks[0].text.strip()[:400])] if chunks else []
    # (a chunk without one gives none: its opening made "Vision Transformers apply the same idea ..." an item)
    out: list[tuple[RetrievedChunk, str]] = []
    for i in range(max(len(p) for p in per_chunk)):
        out += [p[i] for p in per_chunk if i < len(p)]
    return out


class QuizService:
    def __init__(
        self,
        retriever: Retriever,
        llm: AccountedChatModel,
        *,
        roadmap: Roadmap | None = None,
        grader: Grader | None = None,
        min_score: float = 0.25,
        rng: random.Random | None = None,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.roadmap = roadmap
        self.grader = grader or Grader(llm.for_feature("grading"))
        self.checker = KeyChecker(llm)
        self.min_score = min_score
        self.rng = rng or random.Random()

    # -- planning -----------------------------------------------------------------------------
    def _query(self, request: QuizRequest) -> str:
        if request.topic and request.topic.strip():
            return request.topic.strip()
        if request.stage is not None:
            stage = self.roadmap.stage(request.stage) if self.roadmap else None
            if stage is None:
                raise TutorError(f"There is no roadmap stage {request.stage}.", "pass --stage with a stage number.")
            return stage.title
        raise TutorError("A quiz needs a topic or a stage.", "pass --topic 'gradient descent' or --stage 2.")

    def plan(self, request: QuizRequest) -> QuizPlan:
        query = self._query(request)
        chunks = find_material(
            self.retriever, query, roadmap=self.roadmap, min_score=self.min_score, stage=request.stage
        )
        topic = query if request.topic else topic_label(chunks[0], self.roadmap)
        return QuizPlan(request=request, topic=topic, chunks=chunks, estimate=self.estimate(request, topic, chunks))

    def estimate(self, request: QuizRequest, topic: str, chunks: list[RetrievedChunk]) -> CostEstimate:
        """One draft and one key check per question, counted as the accounting layer counts calls."""
        estimator = CostEstimator(f"quiz on '{topic}' ({request.n} questions)")
        pairs = anchors(chunks)
        for i in range(request.n):
            chunk, sentence = pairs[i % len(pairs)]
            draft = quiz_messages(chunk, sentence, topic=topic, qtype=request.type, level=request.level)
            check = mcq_check_messages(chunk.text, "q" * 120, ["o" * 40] * 4)
            schema = schema_of(DRAFTS[request.type])
            estimator.chat(self.llm, draft, DRAFT_TOKENS, json_schema=schema, label="question drafts")
            estimator.chat(self.llm, check, CHECK_TOKENS, json_schema=schema_of(McqCheck), label="key checks")
            if request.type == "mcq":
                judge = key_judgement_messages(sentence, "q" * 120, "o" * 40)
                estimator.chat(self.llm, judge, CHECK_TOKENS, json_schema=schema_of(KeyJudgement), label="key checks")
        return estimator.result()

    # -- generation ---------------------------------------------------------------------------
    def _draft(
        self, messages: list[Message], qtype: QuestionType, meter: Meter, temperature: float | None = None
    ) -> Draft:
        return complete_structured(
            self.llm,
            messages,
            DRAFTS[qtype],
            what="quiz question",
            max_tokens=DRAFT_TOKENS,
            attempts=DRAFT_ATTEMPTS,
            temperature=temperature,
            meter=meter,
        )

    def _checked_draft(
        self,
        messages: list[Message],
        qtype: QuestionType,
        sentence: str,
        chunk: RetrievedChunk,
        accepted: list[Question],
        meter: Meter,
    ) -> tuple[Draft, str | None, str]:
        """A draft, its deterministic verdict and evidence; a fixable defect gets one repair call."""
        first = self._draft(messages, qtype, meter)
        draft, reason, evidence = self._verify(first, sentence, chunk, accepted)
        if reason not in REPAIR_HINTS:
            return draft, reason, evidence
        try:
            fix = repair_messages(messages, first.model_dump_json(), str(reason))
            repaired = self._draft(fix, qtype, meter, temperature=REPAIR_TEMPERATURE)  # at 0.1 it repeats itself
        except StructuredOutputError:
            return draft, reason, evidence
        return self._verify(repaired, sentence, chunk, accepted)

    @staticmethod
    def _verify(
        draft: Draft, sentence: str, chunk: RetrievedChunk, accepted: list[Question]
    ) -> tuple[Draft, str | None, str]:
        """(the draft with three tidy wrong answers where it is multiple choice, the reason to drop it, evidence)."""
        if isinstance(draft, McqDraft):
            # wrong answers are checked against the sentence that states the key too, when that is another one:
            # "permits higher learning rates" stood beside batch norm's key, from the key's own sentence
            stating = supporting_sentence(draft.correct_answer, sentence, chunk.text)
            tidy = tidy_options(draft, sentence=sentence if stating in (None, sentence) else f"{sentence}\n{stating}")
            if tidy is None:
                return draft, "ambiguous-options", sentence
            draft = tidy
        return (draft, *verify_draft(draft, sentence, chunk.text, chunk.id, accepted, about=chunk.heading_path))

    def build(
        self, draft: Draft, chunk: RetrievedChunk, evidence: str, request: QuizRequest, position: int
    ) -> Question:
        """The question the learner sees, from a verified draft, with the key at ``position``."""
        stem, key = stem_and_key(draft)
        options: list[str] = []
        index: int | None = None
        if isinstance(draft, McqDraft):
            options = arrange(draft.correct_answer, draft.wrong_answers, position, self.rng)
            index = position
        elif isinstance(draft, TrueFalseDraft):
            options, index = ["True", "False"], 0 if draft.is_true else 1
        return Question(
            id=stable_id(request.type, stem, key),
            type=request.type,
            stem=stem,
            options=options,
            answer_index=index,
            answer=key,
            explanation=f'The roadmap says: "{evidence}"',
            citation=citation_of(chunk, evidence),
            source_text=chunk.text,
            level=request.level,
        )

    def generate(self, plan: QuizPlan, *, progress: Progress | None = None, max_cost: float | None = None) -> Quiz:
        request, chunks = plan.request, plan.chunks
        enforce_max_cost(plan.estimate, max_cost)  # nothing is sent when the estimate is over the limit
        loop: DraftingLoop[Question] = DraftingLoop(
            request.n, max_drafts(request.n), progress=progress, max_cost=max_cost
        )
        positions = Positions(self.rng)
        truths = Positions(self.rng, size=2)  # true-false: half true, half false
        pairs = anchors(chunks)
        own = len(pairs)  # anchors in the topic's own material; more come from its stage when these run out
        widened: list[str] | None = None  # section labels the quiz was widened to, once
        half = -(-request.n // 2)  # at most this many true/false items with the same key, while others can come
        spares: list[Question] = []

        def draft_one(i: int) -> Question | str | None:
            nonlocal widened
            if i == len(pairs) and widened is None:  # the topic's own material ran out: its stage's next
                more, widened = neighbouring_material(self.retriever, plan.topic, chunks, roadmap=self.roadmap)
                pairs.extend(anchors(more) if more else [])
            if i >= len(pairs):
                return None
            chunk, sentence = pairs[i]
            # Asked for a false statement, the 1.5B model mostly copies the sentence and marks it false (the check
            # drops it): asking for the key a quiz is short of left a 3-item quiz with 1. Requests stay random.
            make_true = next(truths) == 0 if request.type == "true-false" else None
            # a widened anchor is asked about its own section: the quiz's topic named over another section's
            # sentence made "Cross-validation does not decompose the error into bias and variance", keyed False
            topic = plan.topic if i < own else topic_label(chunk, self.roadmap)
            messages = quiz_messages(
                chunk, sentence, topic=topic, qtype=request.type, level=request.level, make_true=make_true
            )
            draft, reason, evidence = self._checked_draft(
                messages, request.type, sentence, chunk, loop.items, loop.meter
            )
            # The checker sees its own random order; the final position is drawn only after acceptance,
            # so a checker that favours a letter cannot skew which positions survive.
            reason = reason or self.checker.check(
                self.build(draft, chunk, evidence, request, self.rng.randrange(4)), loop.meter
            )
            if reason:
                return reason
            question = self.build(draft, chunk, evidence, request, next(positions))
            # true/false keys stay balanced: 19 of the audit's 20 were True, so "True" always scored 95%; an item
            # past the half is kept aside and used only if the quiz would otherwise be short
            if request.type == "true-false" and sum(q.answer == question.answer for q in loop.items) >= half:
                spares.append(question)
                return "true-false-balance"
            return question

        loop.run(draft_one)
        note = loop.note
        if len(loop.items) < request.n and spares:
            back = spares[: request.n - len(loop.items)]
            loop.items += back
            loop.reasons["true-false-balance"] -= len(back)
            loop.reasons += Counter()  # drops the reason when no such draft is left out
            note = (
                f"{note} Most statements are {spares[0].answer.lower()}: too few of the other kind passed the checks."
            ).strip()
        if len(loop.items) < request.n and not loop.note:  # short, and not because of the cost limit
            only = f"Only {len(loop.items)} of {request.n} questions passed verification" + (
                " (the material on this topic ran out)." if loop.exhausted else "."
            )
            note = f"{note} {only}".strip()
        if widened and loop.drafted > own:
            note = f"The material on '{plan.topic}' ran out, so the quiz also drew on: {', '.join(widened)}. {note}"
        loop.require_items(
            f"question about '{plan.topic}'",
            "try again, pick a narrower roadmap topic, or use a stronger model (PROVIDER=openai).",
        )
        return Quiz(
            topic=plan.topic,
            stage=request.stage,
            type=request.type,
            level=request.level,
            questions=loop.items,
            note=note.strip(),
            **loop.report(),
        )

    def make(self, request: QuizRequest, *, progress: Progress | None = None, max_cost: float | None = None) -> Quiz:
        """Plan and generate in one call (the library API the pages use)."""
        return self.generate(self.plan(request), progress=progress, max_cost=max_cost)

    def grade(self, question: Question, response: str) -> Grade:
        return self.grader.grade(question, response)
