"""Estimates before spending: what a batch job (quiz generation, an eval run, ingestion with a paid
embedding model) will cost, worked out before its first call, and the ``--max-cost`` guard.

A job describes the calls it plans to make to a :class:`CostEstimator`; prompts are counted with each
model's tokenizer (the same counting the accounting layer uses before every call) and output at
``max_tokens``, so chat estimates are an upper bound. Then :func:`enforce_max_cost` stops the job
before any call when the estimate is over the learner's limit::

    est = CostEstimator("quiz generation")
    for messages in planned:
        est.chat(tutor.llm.for_feature("quiz"), messages, max_tokens=360, json_schema=schema)
    estimate = est.result()
    print(estimate.summary())
    enforce_max_cost(estimate, max_cost)  # raises CostLimitError, a TutorError
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, computed_field

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.budget import BudgetStatus
from assistant.accounting.embedding import AccountedEmbedding, TextKind, tiktoken_counter
from assistant.accounting.ledger import CallKind
from assistant.accounting.money import format_usd
from assistant.accounting.prices import PriceTable
from assistant.errors import TutorError
from assistant.llm.base import Message, Usage


class CostLimitError(TutorError):
    """A batch job's estimate is over its ``--max-cost``; nothing was sent."""


class EstimateLine(BaseModel):
    label: str = Field(description="what these calls are for, e.g. 'answers', 'judge', 'embeddings'")
    kind: CallKind
    provider: str
    model: str
    calls: int = 0
    prompt_tokens: int = Field(default=0, description="prompt (or embedded) tokens, counted")
    completion_tokens: int = Field(default=0, description="output tokens at max_tokens: an upper bound")
    cost_usd: float = 0.0
    priced: bool = Field(default=True, description="False: a paid model with no price known, counted as $0")


class CostEstimate(BaseModel):
    what: str
    lines: list[EstimateLine] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def calls(self) -> int:
        return sum(line.calls for line in self.lines)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def prompt_tokens(self) -> int:
        return sum(line.prompt_tokens for line in self.lines)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completion_tokens(self) -> int:
        return sum(line.completion_tokens for line in self.lines)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cost_usd(self) -> float:
        return round(sum(line.cost_usd for line in self.lines), 8)

    def summary(self) -> str:
        """A few lines for the terminal: per model, then the total, then any caveat."""
        parts = [f"Estimate for {self.what}:"]
        for line in self.lines:
            tokens = f"~{line.prompt_tokens:,} {'embedded' if line.kind == 'embedding' else 'prompt'} tokens"
            if line.kind == "chat":
                tokens += f" + up to {line.completion_tokens:,} completion tokens"
            price = "free (local model)" if line.provider == "local" else format_usd(line.cost_usd)
            parts.append(f"  {line.label}: {line.calls:,} calls, {tokens}, {price} on {line.provider}/{line.model}")
        parts.append(f"  total: {self.calls:,} calls, {format_usd(self.cost_usd)}")
        unpriced = sorted({f"{ln.provider}/{ln.model}" for ln in self.lines if not ln.priced})
        if unpriced:
            parts.append(f"  no price known for {', '.join(unpriced)}: counted as $0 (add it to PRICE_FILE).")
        if any(ln.kind == "chat" and ln.provider != "local" for ln in self.lines):
            parts.append("  (output counted at its token limit, so the real cost is usually lower)")
        return "\n".join(parts)


class CostEstimator:
    """Collects the calls a batch job plans to make, before it makes any."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lines: dict[tuple[str, str, str, str], EstimateLine] = {}

    def _line(self, label: str, kind: CallKind, provider: str, model: str, prices: PriceTable) -> EstimateLine:
        key = (label, kind, provider, model)
        if key not in self._lines:
            priced = provider == "local" or prices.lookup(provider, model) is not None
            self._lines[key] = EstimateLine(label=label, kind=kind, provider=provider, model=model, priced=priced)
        return self._lines[key]

    def chat(
        self,
        llm: AccountedChatModel,
        messages: list[Message],
        max_tokens: int | None = None,
        *,
        json_schema: dict[str, Any] | None = None,
        label: str = "model calls",
        repeat: int = 1,
    ) -> None:
        """One planned chat call (``repeat`` times), estimated as the accounting layer estimates it."""
        usage, cost = llm.estimate(messages, max_tokens, json_schema)
        line = self._line(label, "chat", llm.provider, llm.model, llm.prices)
        line.calls += repeat
        line.prompt_tokens += usage.prompt_tokens * repeat
        line.completion_tokens += usage.completion_tokens * repeat
        line.cost_usd += cost * repeat

    def embeddings(
        self,
        embedder: AccountedEmbedding,
        texts: list[str],
        *,
        kind: TextKind = "text",
        label: str = "embeddings",
        batch_size: int | None = None,
    ) -> None:
        """Planned embedding of ``texts`` with an accounted embedder (its tokenizer and price)."""
        recorder = embedder.recorder
        tokens = recorder.count(texts, kind)
        line = self._line(label, "embedding", recorder.provider, recorder.model, recorder.prices)
        size = batch_size or embedder.embed_batch_size or 1
        line.calls += -(-len(texts) // size)
        line.prompt_tokens += tokens
        line.cost_usd += recorder.cost(tokens)

    def embedding_texts(
        self,
        texts: Iterable[str],
        *,
        model: str,
        prices: PriceTable,
        provider: str = "openai",
        label: str = "embeddings",
        batch_size: int = 32,
    ) -> None:
        """Planned embedding with a model that is not loaded (e.g. text-embedding-3-small: tiktoken)."""
        texts = list(texts)
        tokens = tiktoken_counter(model)(texts, "text")
        line = self._line(label, "embedding", provider, model, prices)
        line.calls += -(-len(texts) // batch_size)
        line.prompt_tokens += tokens
        line.cost_usd += prices.cost(provider, model, Usage(prompt_tokens=tokens, source="counted"))

    def result(self) -> CostEstimate:
        lines = [line.model_copy(update={"cost_usd": round(line.cost_usd, 8)}) for line in self._lines.values()]
        return CostEstimate(what=self.what, lines=lines)


def enforce_max_cost(estimate: CostEstimate, max_cost: float | None) -> None:
    """Raise :class:`CostLimitError` when the estimate is over ``max_cost`` (None: no limit)."""
    if max_cost is not None and estimate.cost_usd > max_cost:
        raise CostLimitError(
            f"The {estimate.what} is estimated at {format_usd(estimate.cost_usd)}, over --max-cost "
            f"{format_usd(max_cost)}; nothing was sent.",
            "raise --max-cost, make the job smaller, or use the local model (PROVIDER=local).",
        )


def budget_note(estimate: CostEstimate, status: BudgetStatus) -> str | None:
    """A warning when the estimate is more than a cap leaves (calls past the cap will be refused)."""
    for cap in (status.session, status.daily):
        left = cap.remaining_usd
        if left is not None and estimate.cost_usd > left:
            return (
                f"note: that is more than the {format_usd(left)} left under {cap.setting}="
                f"${cap.cap_usd:g}; calls will be refused once the cap is reached."
            )
    return None
