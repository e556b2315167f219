"""The accounting layer: wraps any ChatModel so every call is budgeted, priced and recorded.

Before a call: estimate its cost (prompt tokens counted, output at ``max_tokens``) and check the
budget, so a refused call never reaches the provider. After it: price the real usage and write a
ledger row, success or failure. A stream that fails or is abandoned part-way is recorded as failed
(``ok`` false, the error's class name) with the tokens it spent, counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from assistant.accounting.budget import Budget
from assistant.accounting.ledger import Feature, Ledger, LedgerRow
from assistant.accounting.prices import PriceTable
from assistant.errors import LLMError
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

    def estimate(
        self, messages: list[Message], max_tokens: int | None, json_schema: dict[str, Any] | None = None
    ) -> tuple[Usage, float]:
        """Usage and cost of a call before it is made: the prompt counted with the model's tokenizer
        (plus the schema's text for structured output, which the server adds to the prompt) and the
        output at ``max_tokens``, so an upper bound for the output."""
        prompt = self.inner.count_message_tokens(messages)
        if json_schema is not None:
            prompt += self.inner.count_tokens(json.dumps(json_schema, separators=(",", ":")))
        usage = Usage(prompt_tokens=prompt, completion_tokens=max_tokens or self.default_max_tokens, source="counted")
        return usage, self.prices.cost(self.provider, self.model, usage)

    def _record(self, completion: Completion | None, latency: float, error: BaseException | None) -> None:
        usage = completion.usage if completion else Usage()
        self.ledger.record(
            LedgerRow(
                learner_id=self.learner_id,
                session_id=self.session_id,
                feature=self.feature,
                kind="chat",
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
        self.budget.check(self.estimate(messages, max_tokens, json_schema)[1])
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
            parts: list[str] = []
            try:
                for piece in inner:
                    parts.append(piece)
                    yield piece
                if inner.completion is None:
                    raise LLMError(
                        f"The {self.provider} model's stream ended without a result.",
                        "try again; if it repeats, report it as a bug.",
                    )
            except (Exception, GeneratorExit, KeyboardInterrupt) as exc:
                # The stream failed (cut, malformed, timed out) or the reader stopped early (page closed,
                # Ctrl-C): the call is recorded as failed, with the tokens it spent all the same (counted).
                partial = self._partial(messages, "".join(parts), time.perf_counter() - start)
                self._record(self._price(partial), partial.latency_s, exc)
                raise
            handle.completion = self._price(inner.completion)
            self._record(handle.completion, handle.completion.latency_s, None)

        handle = Stream(pieces())
        return handle

    def _partial(self, messages: list[Message], text: str, latency: float) -> Completion:
        """What an abandoned stream used, counted with the model's tokenizer (no usage arrives)."""
        usage = Usage(
            prompt_tokens=self.inner.count_message_tokens(messages),
            completion_tokens=self.inner.count_tokens(text),
            source="counted",
        )
        return Completion(text="", usage=usage, provider=self.provider, model=self.model, latency_s=latency)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
