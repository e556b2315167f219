"""The accounting layer: wraps any ChatModel so every call is budgeted, priced and recorded.

Before a call: estimate its cost (prompt tokens counted, output at ``max_tokens``) and check the
budget, so a refused call never reaches the provider. After it: price the real usage and write a
ledger row, success or failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from assistant.accounting.budget import Budget
from assistant.accounting.ledger import Feature, Ledger, LedgerRow
from assistant.accounting.prices import PriceTable
from assistant.llm.base import ChatModel, Completion, Message, Stream, Usage


class AccountedChatModel(ChatModel):
    def __init__(
        self,
        inner: ChatModel,
        *,
        ledger: Ledger,
        prices: PriceTable,
        budget: Budget,
        learner_id: str,
        session_id: str,
        feature: Feature = "chat",
        default_max_tokens: int = 512,
    ) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.model = inner.model
        self.ledger = ledger
        self.prices = prices
        self.budget = budget
        self.learner_id = learner_id
        self.session_id = session_id
        self.feature: Feature = feature
        self.default_max_tokens = default_max_tokens

    def for_feature(self, feature: Feature) -> AccountedChatModel:
        """The same model, recording its calls under another feature name."""
        return AccountedChatModel(
            self.inner,
            ledger=self.ledger,
            prices=self.prices,
            budget=self.budget,
            learner_id=self.learner_id,
            session_id=self.session_id,
            feature=feature,
            default_max_tokens=self.default_max_tokens,
        )

    def estimate(self, messages: list[Message], max_tokens: int | None) -> tuple[Usage, float]:
        usage = Usage(
            prompt_tokens=self.inner.count_message_tokens(messages),
            completion_tokens=max_tokens or self.default_max_tokens,
            source="counted",
        )
        return usage, self.prices.cost(self.provider, self.model, usage)

    def _record(self, completion: Completion | None, latency: float, error: Exception | None) -> None:
        usage = completion.usage if completion else Usage()
        self.ledger.record(
            LedgerRow(
                learner_id=self.learner_id,
                session_id=self.session_id,
                feature=self.feature,
                provider=self.provider,
                model=completion.model if completion else self.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_prompt_tokens=usage.cached_prompt_tokens,
                usage_source=usage.source,
                cost_usd=completion.cost_usd if completion else 0.0,
                latency_s=completion.latency_s if completion else latency,
                ok=error is None,
                error=type(error).__name__ if error else None,
            )
        )

    def _price(self, completion: Completion) -> Completion:
        completion.cost_usd = self.prices.cost(self.provider, completion.model, completion.usage)
        return completion

    def complete(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        self.budget.check(self.estimate(messages, max_tokens)[1])
        start = time.perf_counter()
        try:
            completion = self.inner.complete(
                messages, json_schema=json_schema, max_tokens=max_tokens, temperature=temperature
            )
        except Exception as exc:
            self._record(None, time.perf_counter() - start, exc)
            raise
        self._record(self._price(completion), completion.latency_s, None)
        return completion

    def stream(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> Stream:
        self.budget.check(self.estimate(messages, max_tokens)[1])
        start = time.perf_counter()
        try:
            inner = self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature)
        except Exception as exc:
            self._record(None, time.perf_counter() - start, exc)
            raise

        def pieces() -> Iterator[str]:
            try:
                yield from inner
            except Exception as exc:
                self._record(None, time.perf_counter() - start, exc)
                raise
            assert inner.completion is not None
            handle.completion = self._price(inner.completion)
            self._record(handle.completion, handle.completion.latency_s, None)

        handle = Stream(pieces())
        return handle

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
