"""The composition root: every component built from one Settings object, lazily.

Components that pull in llama-index, Chroma or a model are imported where they are built, so a command that
needs only the stores (``tutor progress``, ``tutor costs``) starts in a fraction of a second.

UI, CLI, ingest and evals build a ``Tutor`` and take what they need from it. Tests inject their
own components (a chat model pointed at a fake server, a temp data folder) through the
constructor instead of patching modules.
"""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import TYPE_CHECKING

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.budget import Budget
from assistant.accounting.ledger import Feature, Ledger
from assistant.accounting.prices import PriceTable
from assistant.conversations import ConversationStore
from assistant.llm.base import ChatModel
from assistant.llm.factory import build_chat_model
from assistant.practice.progress import ProgressStore
from assistant.roadmap import Roadmap, load_roadmap
from assistant.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from assistant.accounting.embedding import AccountedEmbedding
    from assistant.practice.flashcards import FlashcardService
    from assistant.practice.interview import InterviewService
    from assistant.practice.quiz import QuizService
    from assistant.rag.answer import AnswerService
    from assistant.rag.retrieval import Retriever


class Tutor:
    def __init__(
        self,
        settings: Settings,
        *,
        chat_model: ChatModel | None = None,
        embedder: BaseEmbedding | None = None,
        session_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self._chat_model = chat_model
        self._embedder = embedder

    @cached_property
    def embedder(self) -> BaseEmbedding:
        if self._embedder is None:
            from assistant.embedding.minilm import load_embedder

            self._embedder = load_embedder(self.settings.embedding_model)
        return self._embedder

    def embedder_for(self, feature: Feature) -> AccountedEmbedding:
        """The embedding model behind the accounting layer, its calls recorded under ``feature``."""
        from assistant.accounting.embedding import account_embedder

        return account_embedder(
            self.embedder,
            ledger=self.ledger,
            prices=self.prices,
            budget=self.budget,
            learner_id=self.settings.learner_id,
            session_id=self.session_id,
            feature=feature,
            model=self.settings.embedding_model,
        )

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.settings.ledger_path)

    @cached_property
    def prices(self) -> PriceTable:
        return PriceTable(self.settings.price_file)

    @cached_property
    def budget(self) -> Budget:
        return Budget(
            self.ledger,
            session_id=self.session_id,
            session_cap=self.settings.session_budget_usd,
            daily_cap=self.settings.daily_budget_usd,
        )

    @cached_property
    def llm(self) -> AccountedChatModel:
        """The chat model every feature uses: always behind the accounting layer."""
        inner = self._chat_model or build_chat_model(self.settings)
        return AccountedChatModel(
            inner,
            ledger=self.ledger,
            prices=self.prices,
            budget=self.budget,
            learner_id=self.settings.learner_id,
            session_id=self.session_id,
            default_max_tokens=self.settings.max_answer_tokens,
        )

    @cached_property
    def chroma(self) -> ClientAPI:
        from assistant.vectorstore.chroma import open_client

        return open_client(self.settings)

    @cached_property
    def collection(self) -> Collection:
        from assistant.vectorstore.chroma import open_collection

        return open_collection(self.chroma, self.settings)

    def _retriever(self, feature: Feature) -> Retriever:
        """Hybrid retrieval (vector + BM25) over the collection, its query embeddings recorded under ``feature``."""
        from assistant.rag.retrieval import Retriever

        s = self.settings
        return Retriever(
            self.collection,
            self.embedder_for(feature),
            top_k=s.top_k,
            lexical_dir=s.lexical_dir,
            candidates=s.retrieval_candidates,
            rrf_k=s.rrf_k,
            vector_weight=s.vector_weight,
            lexical_weight=s.lexical_weight,
            section_priors=s.section_priors,
        )

    @cached_property
    def retriever(self) -> Retriever:
        return self._retriever("chat")

    @cached_property
    def answers(self) -> AnswerService:
        from assistant.rag.answer import AnswerService

        return AnswerService(
            self.retriever,
            self.llm.for_feature("chat"),
            min_score=self.settings.min_relevance,
            max_tokens=self.settings.max_answer_tokens,
            evidence_tokens=self.settings.evidence_tokens,
            key_points=self.settings.key_points,
        )

    @cached_property
    def roadmap(self) -> Roadmap:
        """Stages, topics and prerequisites from the corpus front matter (KNOWLEDGE_DIR)."""
        return load_roadmap(self.settings.knowledge_dir)

    @cached_property
    def quizzes(self) -> QuizService:
        from assistant.practice.quiz import QuizService

        return QuizService(
            self._retriever("quiz"),
            self.llm.for_feature("quiz"),
            roadmap=self.roadmap,
            min_score=self.settings.min_relevance,
        )

    @cached_property
    def flashcards(self) -> FlashcardService:
        from assistant.practice.flashcards import FlashcardService

        return FlashcardService(
            self._retriever("flashcards"),
            self.llm.for_feature("flashcards"),
            roadmap=self.roadmap,
            min_score=self.settings.min_relevance,
        )

    @cached_property
    def interviews(self) -> InterviewService:
        from assistant.practice.interview import InterviewService

        return InterviewService(
            self._retriever("interview"),
            self.llm.for_feature("interview"),
            roadmap=self.roadmap,
            grader_llm=self.llm.for_feature("grading"),
            embedder=self.embedder_for("grading"),
            min_score=self.settings.min_relevance,
        )

    @cached_property
    def conversations(self) -> ConversationStore:
        """The learner's saved chats (per LEARNER_ID)."""
        return ConversationStore(self.settings.chats_path, self.settings.learner_id)

    @cached_property
    def progress(self) -> ProgressStore:
        """The learner's attempts, mastery and review schedule (per LEARNER_ID)."""
        return ProgressStore(self.settings.progress_path, self.settings.learner_id)

    def refresh_index(self) -> None:
        """See writes made by another process (Chroma caches its client per process)."""
        for name in ("chroma", "collection", "retriever", "answers", "quizzes", "flashcards", "interviews"):
            self.__dict__.pop(name, None)
        from assistant.vectorstore.chroma import open_client

        self.__dict__["chroma"] = open_client(self.settings, fresh=True)
