"""Practice interview questions grounded in the roadmap, mock-interview feedback, Markdown export.

Each question is drafted from one or two retrieved chunks. The rubric is chosen, not written: the
model sees the chunks' statements numbered and picks the ones a strong answer covers, so every rubric
point is a sentence of the roadmap (a small model asked to write points writes generic advice). Picks
that share no word with the question are dropped and the rubric topped up from the material
(``rubric_for``); a draft still under ``MIN_RUBRIC`` points, or repeating an earlier question, is
dropped and regenerated within a bound. Feedback scores an answer against the rubric, names what was
missing, suggests a follow-up question and cites sources.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from llama_index.core.base.embeddings.base import BaseEmbedding
from rapidfuzz import fuzz

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.estimate import CostEstimate, CostEstimator
from assistant.errors import StructuredOutputError, TutorError
from assistant.practice.coverage import similar_points
from assistant.practice.drafting import DraftingLoop, Progress
from assistant.practice.drafts import FeedbackDraft, InterviewDraft, schema_of
from assistant.practice.grading import check_length, overlap_score
from assistant.practice.models import (
    Feedback,
    FeedbackBy,
    InterviewKind,
    InterviewLevel,
    InterviewQuestion,
    InterviewSet,
    stable_id,
)
from assistant.practice.prompts import feedback_messages, interview_messages
from assistant.practice.sources import (
    NothingRelevantError,
    about_the_subject,
    find_material,
    key_sentences,
    ref_of,
    roadmap_topic,
)
from assistant.practice.structured import Meter, complete_structured
from assistant.practice.verify import (
    ABOUT_THE_PROMPT,
    DUPLICATE_MATCH,
    GENERIC,
    content_words,
    normalize,
    stems_of,
    word_stem,
)
from assistant.rag.guard import guard_source
from assistant.rag.retrieval import RetrievedChunk, Retriever
from assistant.roadmap import Roadmap

MAX_QUESTIONS = 20
MIN_RUBRIC = 2
MAX_RUBRIC = 5
STATEMENT_WORDS = 6  # a rubric point holds one idea: shorter lines are headings or fragments
STATEMENTS_PER_CHUNK = 8  # keeps the prompt short; the first sentences of a section carry its ideas
# A rubric point the answer restates counts as covered even when the model's feedback misses it (small
# models do): a learner who states the point is never scored 0 for it. Restating means using 40% of the
# point's words that the question does not already contain: points are whole roadmap sentences with
# asides ("usually 5 or 10") an answer can skip, and echoing the question must earn nothing.
POINT_STATED = 0.4
DRAFT_TOKENS = 320
DRAFT_ATTEMPTS = 2  # a draft whose output does not parse is asked again once
FEEDBACK_TOKENS = 240
CHUNKS_PER_QUESTION = 2
BEHAVIOURAL_ADVICE = "behavioural interview"  # a roadmap topic by that name is used as it is
# What a behavioural rubric is topped up with first: the advice that says how to tell the story ("Answer with
# STAR ...") before the round's description ("This round checks collaboration ...").
GOOD_STORY = "answer with a story: the situation, the task, your action and the result, with numbers"
KINDS: dict[InterviewLevel, list[InterviewKind]] = {
    "junior": ["conceptual", "applied", "conceptual", "behavioural", "applied"],
    "mid": ["conceptual", "applied", "system-design", "behavioural"],
    "senior": ["system-design", "applied", "behavioural", "conceptual"],
}
STAGE_LEVELS: dict[InterviewLevel, tuple[str, ...]] = {
    "junior": ("beginner", "intermediate"),
    "mid": ("intermediate", "beginner", "advanced"),
    "senior": ("advanced", "intermediate"),
}
# Sections that list study resources or study plans: read for the learner, but no answer to an interview
# question is judged by "free courses on transformers" or "spend six weeks". Used only when the material
# has other sections.


def on_question(point: str, question: str) -> bool:
    """A rubric point shares at least two specific content words (by prefix) with its question: one
    shared word ("transformers") let a list of courses stand as the rubric of a question on attention."""
    return len((stems_of(point) & stems_of(question)) - GENERIC) >= 2


def states_point(point: str, question: str, answer: str) -> bool:
    """The answer restates the point: at least two, and ``POINT_STATED`` of, the point's content words
    that are not already in the question (so echoing the question earns nothing)."""
    asked, said = stems_of(question), stems_of(answer)
    words = [w for w in dict.fromkeys(word_stem(w) for w in content_words(point)) if w not in asked]
    hits = sum(w in said for w in words)
    return hits >= 2 and hits >= POINT_STATED * len(words) - 1e-9


def rubric_for(
    question: str,
    chosen: list[tuple[str, RetrievedChunk]],
    statements: list[tuple[str, RetrievedChunk]],
    kind: InterviewKind,
) -> list[tuple[str, RetrievedChunk]]:
    """The rubric of a draft: the chosen statements that share a word with the question, topped up to
    ``MIN_RUBRIC`` with the material's statements sharing the most words (at least two) with it.

    A behavioural answer is judged by how the story is told, not by the question's words: see
    ``behavioural_rubric``.
    """
    if kind == "behavioural":
        return behavioural_rubric(question, chosen, statements)
    points = [p for p in chosen if on_question(p[0], question)]
    asked = stems_of(question)
    shared = sorted(
        ((len(stems_of(s) & asked), i) for i, (s, _) in enumerate(statements) if statements[i] not in points),
        key=lambda pair: (-pair[0], pair[1]),
    )
    for count, i in shared:
        if len(points) >= MIN_RUBRIC or count < 2:
            break
        points.append(statements[i])
    return points


def behavioural_rubric(
    question: str, chosen: list[tuple[str, RetrievedChunk]], statements: list[tuple[str, RetrievedChunk]]
) -> list[tuple[str, RetrievedChunk]]:
    """A behavioural rubric: the chosen points of the subject's chunk that the question is about, then the
    roadmap's advice on behavioural answers (every chunk after the subject's), how to tell the story first,
    at least one of it and up to ``MIN_RUBRIC`` points in all. Material without the advice keeps the chosen
    points as they are.

    Seen on the 1.5B model (12-08): "Tell me about a time you had to debug k-means in production" was given
    DBSCAN's and PCA's definitions, the rest of the subject's chunk, as its rubric; when it did pick the advice,
    it picked the round's description ("This round checks collaboration ...") over "Answer with STAR ..."."""
    subject = statements[0][1].id if statements else ""
    advice = [s for s in statements if s[1].id != subject]
    if not advice:
        return chosen
    points = [p for p in chosen if p[1].id == subject and on_question(p[0], question)]
    telling = stems_of(GOOD_STORY)
    ranked = sorted(advice, key=lambda s: -len(stems_of(s[0]) & telling))  # stable: ties keep document order
    return points + ranked[: max(1, MIN_RUBRIC - len(points))]


def draft_budget(n: int) -> int:
    """How many drafts may be made for ``n`` questions: each dropped draft is replaced, within this bound
    (the recorded 1.5B junior set dropped 3 of 5 once questions about "the study material" counted as
    malformed: n + 2 fell short)."""
    return max(n + 3, round(n * 2.5))


def _check_n(n: int) -> None:
    if not 1 <= n <= MAX_QUESTIONS:
        raise TutorError(f"--n must be between 1 and {MAX_QUESTIONS}.", f"pass --n 1..{MAX_QUESTIONS}.")


def statements_of(chunks: list[RetrievedChunk]) -> list[tuple[str, RetrievedChunk]]:
    """The statements a rubric can be chosen from, in order, numbered from 1 in the prompt.

    Instructions planted in a chunk are removed first, so they can never become rubric points.
    """
    found: list[tuple[str, RetrievedChunk]] = []
    for chunk in chunks:
        sentences = key_sentences(guard_source(chunk.text, marker="").text, min_words=STATEMENT_WORDS)
        for sentence in sentences[:STATEMENTS_PER_CHUNK]:
            if all(normalize(sentence) != normalize(s) for s, _ in found):
                found.append((sentence, chunk))
    return found


def rubric_of(numbers: list[int], statements: list[tuple[str, RetrievedChunk]]) -> list[tuple[str, RetrievedChunk]]:
    """The chosen statements, in the model's order; numbers out of range or repeated are skipped."""
    picked = [n for n in dict.fromkeys(numbers) if 1 <= n <= len(statements)]
    return [statements[n - 1] for n in picked[:MAX_RUBRIC]]


class InterviewService:
    def __init__(
        self,
        retriever: Retriever,
        llm: AccountedChatModel,
        *,
        roadmap: Roadmap | None = None,
        grader_llm: AccountedChatModel | None = None,
        embedder: BaseEmbedding | None = None,
        min_score: float = 0.25,
        rng: random.Random | None = None,
    ) -> None:
        self.retriever = retriever
        self.embedder = embedder  # credits rubric points an answer states in other words (``coverage``)
        self.llm = llm
        self.grader_llm = grader_llm or llm
        self.roadmap = roadmap
        self.min_score = min_score
        self.rng = rng or random.Random()

    def _topics(self, level: InterviewLevel, topic: str | None, n: int) -> list[str]:
        """What each question is about: the given topic, or roadmap topics spread over fitting stages."""
        if topic and topic.strip():
            return [topic.strip()]
        if self.roadmap is None or not self.roadmap.stages:
            return ["machine learning engineering"]
        picked: list[str] = []
        for wanted in STAGE_LEVELS[level]:
            stages = [s for s in self.roadmap.stages if s.level == wanted]
            pools = [[s.headings.get(t, t) for t in s.topics if t not in s.interview_skip] for s in stages]
            for pool in pools:
                self.rng.shuffle(pool)
            self.rng.shuffle(pools)
            while any(pools) and len(picked) < n * 2:
                for pool in pools:
                    if pool:
                        picked.append(pool.pop())
            if len(picked) >= n * 2:
                break
        return picked or ["machine learning engineering"]

    def _material(self, query: str, cache: dict[str, list[RetrievedChunk]]) -> list[RetrievedChunk]:
        if query not in cache:
            cache[query] = find_material(self.retriever, query, roadmap=self.roadmap, min_score=self.min_score)
        return cache[query]

    def _chunks(
        self, subject: str, kind: InterviewKind, attempt_no: int, cache: dict[str, list[RetrievedChunk]]
    ) -> list[RetrievedChunk]:
        """The material of one draft: the subject's chunks, rotated on each new attempt; a behavioural
        question also gets the roadmap's advice on behavioural answers, the rubric it is judged by."""
        found = self._rubric_material(self._material(subject, cache))
        start = (attempt_no * CHUNKS_PER_QUESTION) % len(found)
        chunks = (found[start:] + found[:start])[:CHUNKS_PER_QUESTION]
        if kind == "behavioural":
            try:
                advice = self._material(BEHAVIOURAL_ADVICE, cache)[:1]
            except NothingRelevantError:
                advice = []
            chunks = list({c.id: c for c in [*chunks[:1], *advice]}.values())  # the subject first: its topic
        return chunks

    @staticmethod
    def _rubric_material(found: list[RetrievedChunk]) -> list[RetrievedChunk]:
        """The chunks a rubric may come from: resource lists and study plans left out where others exist."""
        return about_the_subject(found)

    def estimate(
        self,
        level: InterviewLevel,
        *,
        topic: str | None = None,
        kind: InterviewKind | None = None,
        n: int = 5,
        mock: bool = False,
    ) -> CostEstimate:
        """Before any call: at most ``draft_budget(n)`` question drafts, each asked at most twice (and ``n``
        feedback calls for a mock interview): an upper bound; usually about ``n`` calls are made.

        The drafts are estimated on the topic's own material (a topic with none raises
        NothingRelevantError here, before anything is sent), otherwise on general roadmap material.
        """
        _check_n(n)
        query = topic.strip() if topic and topic.strip() else "machine learning engineer"
        try:
            chunks = find_material(self.retriever, query, roadmap=self.roadmap, min_score=self.min_score)
        except NothingRelevantError:
            if topic and topic.strip():
                raise
            chunks = []
        chunks = chunks[:CHUNKS_PER_QUESTION]
        estimator = CostEstimator(f"{level} interview questions ({n})")
        messages = interview_messages(statements_of(chunks), topic=query, level=level, kind=kind or KINDS[level][0])
        schema = schema_of(InterviewDraft)
        estimator.chat(
            self.llm,
            messages,
            DRAFT_TOKENS,
            json_schema=schema,
            label="question drafts (at most)",
            repeat=draft_budget(n) * DRAFT_ATTEMPTS,
        )
        if mock:
            answer = "x " * 150  # a typical spoken answer, about 150 words
            rubric = ["a key point a strong answer covers"] * 4
            check = feedback_messages("q" * 200, rubric, answer, [c.text for c in chunks])
            estimator.chat(
                self.grader_llm,
                check,
                FEEDBACK_TOKENS,
                json_schema=schema_of(FeedbackDraft),
                label="feedback",
                repeat=n,
            )
        return estimator.result()

    def generate(
        self,
        level: InterviewLevel,
        *,
        topic: str | None = None,
        kind: InterviewKind | None = None,
        n: int = 5,
        progress: Progress | None = None,
        max_cost: float | None = None,
    ) -> InterviewSet:
        _check_n(n)
        topics = self._topics(level, topic, n)
        cache: dict[str, list[RetrievedChunk]] = {}
        if topic:  # fail early, with the nearest topics, when the given topic has no material
            self._material(topics[0], cache)
        loop: DraftingLoop[InterviewQuestion] = DraftingLoop(n, draft_budget(n), progress=progress, max_cost=max_cost)

        def draft_one(i: int) -> InterviewQuestion | str:
            this_kind = kind or KINDS[level][i % len(KINDS[level])]
            subject = topics[i % len(topics)]
            attempt_no = i // max(1, len(topics))
            try:
                chunks = self._chunks(subject, this_kind, attempt_no, cache)
            except NothingRelevantError:
                return "no-material"
            statements = statements_of(chunks)
            if len(statements) < MIN_RUBRIC:
                return "thin-material"
            draft = complete_structured(
                self.llm,
                interview_messages(statements, topic=subject, level=level, kind=this_kind),
                InterviewDraft,
                what="interview question",
                max_tokens=DRAFT_TOKENS,
                attempts=DRAFT_ATTEMPTS,
                temperature=None if attempt_no == 0 else 0.7,
                meter=loop.meter,
            )
            question = draft.question.strip()
            chosen = rubric_of(draft.key_points, statements)
            points = rubric_for(question, chosen, statements, this_kind)
            if not question or len(question) > 600 or ABOUT_THE_PROMPT.search(question):
                return "malformed-question"
            if len(points) < MIN_RUBRIC:
                return "rubric-invalid" if len(chosen) < MIN_RUBRIC else "rubric-off-question"
            if any(
                fuzz.token_sort_ratio(normalize(question), normalize(q.question)) >= DUPLICATE_MATCH for q in loop.items
            ):
                return "duplicate"
            # the subject's chunk first (it names the topic and stage the attempt is filed under), then any
            # other chunk a rubric point comes from
            chosen_ids = {c.id for _, c in points}
            used = [c for j, c in enumerate(chunks) if j == 0 or c.id in chosen_ids]
            return InterviewQuestion(
                id=stable_id("interview", level, question),
                level=level,
                kind=this_kind,
                topic=ref_of(chunks[0]).topic or roadmap_topic(subject, self.roadmap) or subject,
                question=question,
                rubric=[p for p, _ in points],
                sources=[ref_of(c) for c in used],
                source_texts=[c.text for c in used],
            )

        loop.run(draft_one)
        loop.require_items(
            "interview question", "try again, pass a roadmap --topic, or use a stronger model (PROVIDER=openai)."
        )
        return InterviewSet(level=level, topic=topic, kind=kind, questions=loop.items, note=loop.note, **loop.report())

    def feedback(self, question: InterviewQuestion, response: str, meter: Meter | None = None) -> Feedback:
        """Score an answer against the rubric, name what is missing, and ask a follow-up."""
        text = check_length(response)

        def result(hits: list[bool], comment: str, follow_up: str, by: FeedbackBy) -> Feedback:
            return Feedback(
                question_id=question.id,
                score=round(sum(hits) / len(hits), 2) if hits else 0.0,
                covered=[p for p, hit in zip(question.rubric, hits, strict=True) if hit],
                missing=[p for p, hit in zip(question.rubric, hits, strict=True) if not hit],
                comment=comment,
                follow_up=follow_up,
                sources=question.sources,
                graded_by=by,
            )

        if not text:
            return result(
                [False] * len(question.rubric),
                "No answer given. Use the rubric and the sources to prepare one.",
                question.question,
                "empty",
            )
        try:
            draft = complete_structured(
                self.grader_llm,
                feedback_messages(question.question, question.rubric, text, question.source_texts),
                FeedbackDraft,
                what="interview feedback",
                max_tokens=FEEDBACK_TOKENS,
                attempts=2,
                temperature=0.0,
                meter=meter,
            )
        except StructuredOutputError:
            hits = [overlap_score(p, text)[0] >= 0.5 for p in question.rubric]
            missing = [p for p, hit in zip(question.rubric, hits, strict=True) if not hit]
            follow_up = (
                f"Can you say more about {missing[0][0].lower() + missing[0][1:]}?"
                if missing
                else "What would you do differently at ten times the scale?"
            )
            return result(
                hits,
                "Scored by word overlap with the rubric (the model's feedback was unusable).",
                follow_up,
                "overlap",
            )
        stated = {i for i, p in enumerate(question.rubric, start=1) if states_point(p, question.question, text)}
        if self.embedder is not None:
            stated |= similar_points(self.embedder, question.rubric, text, question.question)
        covered = set(draft.covered_points) | stated
        comment = draft.comment.strip()
        overlooked = sorted(stated - set(draft.covered_points))
        if overlooked:
            points = "; ".join(question.rubric[i - 1].rstrip(".:; ") for i in overlooked)
            comment = f"{comment} (Credited because your answer states it: {points}.)".strip()
        follow_up = draft.follow_up_question.strip() or "Can you give a concrete example from your own work?"
        return result([i in covered for i in range(1, len(question.rubric) + 1)], comment, follow_up, "model")


def to_markdown(interview: InterviewSet, now: datetime | None = None) -> str:
    """The questions, rubrics and sources as a Markdown file for offline practice."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    about = f" on {interview.topic}" if interview.topic else ""
    lines = [
        f"# Practice interview questions: {interview.level} ML engineer{about}",
        "",
        f"Generated from the roadmap on {when}: {len(interview.questions)} questions "
        f"({interview.dropped} drafts dropped by verification). Answer aloud first, then check the rubric.",
    ]
    for i, q in enumerate(interview.questions, start=1):
        lines += ["", f"## {i}. {' '.join(q.question.split())}", "", f"*{q.kind}* · topic: {q.topic}", ""]
        lines += ["**A strong answer covers:**", "", *[f"- {' '.join(p.split())}" for p in q.rubric], ""]
        lines += ["**Sources:**", "", *[f"- {s.label}" for s in q.sources]]
    return "\n".join(lines) + "\n"
