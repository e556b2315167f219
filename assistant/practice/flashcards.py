"""Flashcards: the back is a roadmap sentence, chosen deterministically; one model call writes the front.

The statements are the key sentences of the topic's material (the material quizzes use): the best hit's
section first, other sections only where a sentence is close to the topic; never self-check lines ("You
know it when ...") or sentences that lean on the one before. The model only writes the question on
the front, which is checked before a card is kept: a question, on the statement's subject, not giving the
statement away, not about the prompt, not a repeat. New cards enter the learner's spaced-repetition
schedule due now, so `tutor review` and the Review page show them with missed quiz items.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.estimate import CostEstimate, CostEstimator, enforce_max_cost
from assistant.errors import TutorError
from assistant.practice.drafting import DraftingLoop, Progress
from assistant.practice.drafts import FlashcardDraft, schema_of
from assistant.practice.models import Deck, Question, stable_id
from assistant.practice.prompts import flashcard_messages
from assistant.practice.quiz import anchors
from assistant.practice.sources import (
    citation_of,
    find_material,
    neighbouring_material,
    stands_alone,
    topic_label,
    topic_of,
)
from assistant.practice.structured import complete_structured
from assistant.practice.verify import ABOUT_THE_PROMPT, is_duplicate, stems_of
from assistant.rag.retrieval import RetrievedChunk, Retriever, cosine
from assistant.roadmap import Roadmap

MAX_CARDS = 20
FRONT_TOKENS = 80
FRONT_WORDS = (4, 30)
GIVEAWAY = 0.75  # share of the back's content words already on the front: the front gives the answer away
RELATED = 0.5  # cosine of a sentence from outside the best section with the topic, to be a card on it

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding


class FlashcardRequest(BaseModel):
    topic: str | None = None
    stage: int | None = None
    n: int = Field(5, ge=1, le=MAX_CARDS)


def statements(chunks: list[RetrievedChunk]) -> list[tuple[RetrievedChunk, str]]:
    """(chunk, sentence) pairs a card can be made from, best chunk first, round-robin: whole sentences that
    state something on their own (no self-check line, no reference back to the sentence before)."""
    return [(c, s) for c, s in (anchors(chunks) if chunks else []) if stands_alone(s)]


def section_of(chunk: RetrievedChunk) -> str:
    return topic_of(chunk) or chunk.heading_path


def on_topic(chunks: list[RetrievedChunk], topic: str, embedder: BaseEmbedding) -> list[tuple[RetrievedChunk, str]]:
    """Statements of the best hit's section first; from other sections only those close to the topic.

    Material for a topic often spans unrelated sections at similar scores ("model monitoring" also brings an
    interview plan and a stage introduction), and a card whose back is off the topic teaches nothing."""
    best = section_of(chunks[0])
    own = statements([c for c in chunks if section_of(c) == best])
    others = statements([c for c in chunks if section_of(c) != best])
    if not others:
        return own
    query = embedder.get_query_embedding(topic)
    vectors = embedder.get_text_embedding_batch([s for _, s in others])
    return own + [pair for pair, v in zip(others, vectors, strict=True) if cosine(query, v) >= RELATED]


def front_problem(front: str, back: str) -> str | None:
    """Why a drafted front is not usable with this back (None when it is)."""
    words = len(front.split())
    if not front.endswith("?") or not FRONT_WORDS[0] <= words <= FRONT_WORDS[1]:
        return "not-a-question"
    if ABOUT_THE_PROMPT.search(front) or re.search(r"\b(the|this) (statement|text|sentence|passage)\b", front, re.I):
        return "about-the-prompt"
    back_stems = stems_of(back)
    front_stems = stems_of(front)
    if not back_stems & front_stems:
        return "off-the-statement"
    if len(back_stems & front_stems) / max(1, len(back_stems)) >= GIVEAWAY:
        return "gives-it-away"
    return None


class FlashcardService:
    def __init__(
        self,
        retriever: Retriever,
        llm: AccountedChatModel,
        *,
        roadmap: Roadmap | None = None,
        min_score: float = 0.25,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.roadmap = roadmap
        self.min_score = min_score

    def _material(self, request: FlashcardRequest) -> tuple[str, list[RetrievedChunk]]:
        stage = self.roadmap.stage(request.stage) if request.stage is not None and self.roadmap else None
        if request.topic and request.topic.strip():
            query = request.topic.strip()
        elif stage is not None:
            query = stage.title
        else:
            raise TutorError("Flashcards need a topic or a roadmap stage.", "pass a topic, e.g. 'gradient descent'.")
        chunks = find_material(
            self.retriever, query, roadmap=self.roadmap, min_score=self.min_score, stage=request.stage
        )
        return (query if request.topic else topic_label(chunks[0], self.roadmap)), chunks

    def estimate(self, topic: str, pairs: list[tuple[RetrievedChunk, str]], n: int) -> CostEstimate:
        estimator = CostEstimator(f"flashcards on '{topic}' ({n} cards)")
        for chunk, sentence in pairs[:n]:
            messages = flashcard_messages(chunk, sentence, topic=topic)
            estimator.chat(self.llm, messages, FRONT_TOKENS, json_schema=schema_of(FlashcardDraft), label="fronts")
        return estimator.result()

    def make(
        self, request: FlashcardRequest, *, progress: Progress | None = None, max_cost: float | None = None
    ) -> Deck:
        """Up to ``n`` checked cards; one front is drafted per statement, at most 2n statements tried."""
        topic, chunks = self._material(request)
        pairs = on_topic(chunks, topic, self.retriever.embedder)
        widened: dict[str, str] = {}  # chunk id -> its section's label, for chunks from the wider stage
        if len(pairs) < 2 * request.n:  # thin material: the other sections of its stage, as quizzes widen
            best = [c for c in chunks if section_of(c) == section_of(chunks[0])]  # its stage, not a look-alike's
            more, _ = neighbouring_material(self.retriever, topic, best, roadmap=self.roadmap, limit=6)
            widened = {c.id: topic_label(c, self.roadmap) for c in more}
            seen = {sentence for _, sentence in pairs}
            pairs += [(c, s) for c, s in statements(more) if s not in seen]
        if not pairs:
            raise TutorError(f"The material on '{topic}' has no statements to make cards from.", "try another topic.")
        enforce_max_cost(self.estimate(topic, pairs, request.n), max_cost)
        loop: DraftingLoop[Question] = DraftingLoop(
            request.n, 2 * request.n, progress=progress, max_cost=max_cost
        )  # one front per statement, at most 2n statements tried

        def draft_one(i: int) -> Question | str | None:
            if i >= len(pairs):
                return None
            chunk, sentence = pairs[i]
            draft = complete_structured(
                self.llm,
                flashcard_messages(chunk, sentence, topic=topic),
                FlashcardDraft,
                what="flashcard",
                max_tokens=FRONT_TOKENS,
                attempts=2,
                meter=loop.meter,
            )
            front = " ".join(draft.front.split())
            reason = front_problem(front, sentence)
            if reason is None and is_duplicate(front, sentence, chunk.id, loop.items):
                reason = "duplicate"
            return reason or Question(
                id=stable_id("flashcard", sentence),  # the back is the card: a new front updates it
                type="flashcard",
                answer_index=None,
                stem=front,
                answer=sentence,
                explanation="",
                citation=citation_of(chunk, sentence),
                source_text=chunk.text,
            )

        cards = loop.run(draft_one).items
        loop.require_items(
            f"flashcard on '{topic}'", "try again or pick a narrower roadmap topic.", verb="passed the checks"
        )
        labels = [widened[c.citation.chunk_id] for c in cards if c.citation.chunk_id in widened]
        note = "" if len(cards) == request.n else f"Only {len(cards)} of {request.n} cards passed the checks."
        if labels:
            where = ", ".join(dict.fromkeys(labels))
            note = f"The material on '{topic}' was thin, so some cards come from: {where}. {note}"
        return Deck(
            topic=topic,
            cards=cards,
            note=(f"{loop.note} {note}" if loop.note else note).strip(),
            **loop.report(),
        )
