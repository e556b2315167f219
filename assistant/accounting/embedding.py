"""Embedding calls through the accounting layer: counted, priced, budgeted and recorded.

:class:`AccountedEmbedding` wraps any llama-index ``BaseEmbedding`` and is used in its place (the
retriever's query embeddings, ingestion's chunk embeddings). Each provider call, a query or a batch of
texts, becomes one ledger row of kind ``embedding``: tokens counted with the embedding model's own
tokenizer (the sentence-transformers tokenizer for MiniLM, truncated as the model truncates; tiktoken
for OpenAI embedding models), priced from the price table (local models cost $0), with its latency.
A paid call that would pass a budget cap is refused before it is sent.

Use :func:`account_embedder` (from a ``Tutor``: ``tutor.embedder_for("ingest")``), or
:func:`account_embedder_from_settings` where no ``Tutor`` exists (ingestion).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Literal

import tiktoken
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import ConfigDict, Field, PrivateAttr

from assistant.accounting.budget import Budget
from assistant.accounting.ledger import Feature, Ledger, LedgerRow
from assistant.accounting.prices import PriceTable
from assistant.llm.base import Usage
from assistant.settings import Settings

TextKind = Literal["query", "text"]
TokenCounter = Callable[[list[str], TextKind], int]


@lru_cache(maxsize=8)
def _tiktoken_for(model: str) -> tiktoken.Encoding:
    try:
        return tiktoken.encoding_for_model(model)  # text-embedding-3-*, ada-002: cl100k_base
    except KeyError:
        return tiktoken.get_encoding("cl100k_base")


def token_counter_for(embedder: BaseEmbedding, model: str) -> TokenCounter:
    """Count tokens the way ``embedder`` sees them: its own tokenizer when it has one (a
    sentence-transformers model: prompt prefix included, truncated at ``max_seq_length`` as encoding
    does), otherwise tiktoken for ``model`` (OpenAI embedding models use cl100k_base)."""
    st_model = getattr(embedder, "_model", None)
    tokenizer = getattr(st_model, "tokenizer", None)
    if tokenizer is not None and callable(tokenizer):
        max_len = getattr(st_model, "max_seq_length", None)
        prompts: dict[str, str] = dict(getattr(st_model, "prompts", None) or {})

        def count_local(texts: list[str], kind: TextKind) -> int:
            prefix = prompts.get(kind, "") or ""
            encoded = tokenizer([prefix + t for t in texts], truncation=max_len is not None, max_length=max_len)
            return sum(len(ids) for ids in encoded["input_ids"])

        return count_local
    return tiktoken_counter(model)


def tiktoken_counter(model: str) -> TokenCounter:
    """Tokens as OpenAI embedding models count them (tiktoken; cl100k_base for unknown names)."""
    encoding = _tiktoken_for(model)

    def count_tiktoken(texts: list[str], kind: TextKind) -> int:
        return sum(len(encoding.encode(t, disallowed_special=())) for t in texts)

    return count_tiktoken


class EmbeddingRecorder:
    """Prices, budgets and records embedding calls for one learner session and feature."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        prices: PriceTable,
        budget: Budget,
        learner_id: str,
        session_id: str,
        provider: str,
        model: str,
        count: TokenCounter,
    ) -> None:
        self.ledger = ledger
        self.prices = prices
        self.budget = budget
        self.learner_id = learner_id
        self.session_id = session_id
        self.provider = provider
        self.model = model
        self.count = count

    def cost(self, tokens: int) -> float:
        return self.prices.cost(self.provider, self.model, Usage(prompt_tokens=tokens, source="counted"))

    def run(
        self, texts: list[str], kind: TextKind, feature: Feature, call: Callable[[], list[Embedding]]
    ) -> list[Embedding]:
        """Check the budget, make the call, and record one row for it, success or failure."""
        tokens = self.count(texts, kind)
        cost = self.cost(tokens)
        self.budget.check(cost)
        start = time.perf_counter()
        error: Exception | None = None
        try:
            return call()
        except Exception as exc:
            error = exc
            raise
        finally:
            self.ledger.record(
                LedgerRow(
                    learner_id=self.learner_id,
                    session_id=self.session_id,
                    feature=feature,
                    kind="embedding",
                    provider=self.provider,
                    model=self.model,
                    prompt_tokens=tokens,
                    usage_source="counted",
                    cost_usd=0.0 if error else cost,
                    latency_s=time.perf_counter() - start,
                    ok=error is None,
                    error=type(error).__name__ if error else None,
                )
            )


class AccountedEmbedding(BaseEmbedding):
    """A ``BaseEmbedding`` that sends every call through an :class:`EmbeddingRecorder`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseEmbedding = Field(exclude=True, description="the embedding model doing the work")
    feature: Feature = "chat"
    _recorder: EmbeddingRecorder = PrivateAttr()

    def __init__(self, inner: BaseEmbedding, recorder: EmbeddingRecorder, feature: Feature, **kwargs: Any) -> None:
        super().__init__(  # type: ignore[call-arg]  # our fields; mypy sees only the base class's
            inner=inner,
            feature=feature,
            model_name=recorder.model,
            embed_batch_size=inner.embed_batch_size,
            **kwargs,
        )
        self._recorder = recorder

    @classmethod
    def class_name(cls) -> str:
        return "AccountedEmbedding"

    @property
    def recorder(self) -> EmbeddingRecorder:
        return self._recorder

    @property
    def provider(self) -> str:
        return self._recorder.provider

    def for_feature(self, feature: Feature) -> AccountedEmbedding:
        """The same model and recorder, recording under another feature."""
        return AccountedEmbedding(self.inner, self._recorder, feature)

    def count_tokens(self, texts: list[str], kind: TextKind = "text") -> int:
        return self._recorder.count(texts, kind)

    # -- BaseEmbedding ------------------------------------------------------------------------
    def _get_query_embedding(self, query: str) -> Embedding:
        return self._recorder.run([query], "query", self.feature, lambda: [self.inner._get_query_embedding(query)])[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._recorder.run([text], "text", self.feature, lambda: [self.inner._get_text_embedding(text)])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._recorder.run(list(texts), "text", self.feature, lambda: self.inner._get_text_embeddings(texts))

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embedding(text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._get_text_embeddings(texts)


def guess_provider(embedder: BaseEmbedding) -> str:
    """ "openai" for llama-index's OpenAI embedding classes, "local" for in-process models."""
    return "openai" if "openai" in type(embedder).__name__.lower() else "local"


def account_embedder(
    embedder: BaseEmbedding,
    *,
    ledger: Ledger,
    prices: PriceTable,
    budget: Budget,
    learner_id: str,
    session_id: str,
    feature: Feature,
    model: str,
    provider: str | None = None,
) -> AccountedEmbedding:
    """``embedder`` behind the accounting layer; an already accounted one only changes feature."""
    if isinstance(embedder, AccountedEmbedding):
        return embedder.for_feature(feature)
    recorder = EmbeddingRecorder(
        ledger=ledger,
        prices=prices,
        budget=budget,
        learner_id=learner_id,
        session_id=session_id,
        provider=provider or guess_provider(embedder),
        model=model,
        count=token_counter_for(embedder, model),
    )
    return AccountedEmbedding(embedder, recorder, feature)


def account_embedder_from_settings(
    embedder: BaseEmbedding, settings: Settings, *, feature: Feature = "ingest", session_id: str | None = None
) -> AccountedEmbedding:
    """For work that has no ``Tutor`` (ingestion): the ledger, prices and caps from ``settings``."""
    if isinstance(embedder, AccountedEmbedding):
        return embedder.for_feature(feature)
    ledger = Ledger(settings.ledger_path)
    session = session_id or uuid.uuid4().hex[:12]
    return account_embedder(
        embedder,
        ledger=ledger,
        prices=PriceTable(settings.price_file),
        budget=Budget(
            ledger, session_id=session, session_cap=settings.session_budget_usd, daily_cap=settings.daily_budget_usd
        ),
        learner_id=settings.learner_id,
        session_id=session,
        feature=feature,
        model=settings.embedding_model,
    )
