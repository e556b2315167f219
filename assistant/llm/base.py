"""The one chat-model interface every feature uses.

Providers implement :class:`ChatModel`. Callers never see provider types: they pass messages
(and optionally a JSON schema for structured output) and get back text with the usage that the
accounting layer records. Streaming yields text pieces and exposes the final
:class:`Completion` once the stream is exhausted.

A provider may have to find out which form of structured output a server takes: a request in a form the
server refuses raises :class:`StructuredFormatRejected` after the provider has moved on to its next form,
and :func:`complete_json` sends it again. Each attempt is its own call, so the accounting layer records
every request that reached the server (a refused one as failed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.errors import LLMError

# json_schema -> json_object -> text: at most two refusals before the last form (see openai_compat)
STRUCTURED_FALLBACKS = 2


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    # "provider": reported by the server; "counted": counted by us with the model's tokenizer.
    source: Literal["provider", "counted"] = "provider"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        """Two calls' usage together (an answer and its retry); "counted" when either was counted."""
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
            source=self.source if self.source == other.source else "counted",
        )


class Completion(BaseModel):
    text: str
    usage: Usage
    provider: str
    model: str
    latency_s: float
    cost_usd: float = 0.0
    extra: dict[str, Any] = Field(default_factory=dict)


class Stream:
    """Iterates over text pieces; ``completion`` is set once the iteration finishes."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces

    def text(self) -> str:
        return "".join(self)


class StructuredFormatRejected(LLMError):
    """The server refused this form of structured output; the provider now uses its next form, so the
    same request can be sent again (:func:`complete_json`)."""


class ChatModel(ABC):
    """A chat model. Implementations must be safe to call from several threads."""

    provider: str
    model: str

    @abstractmethod
    def complete(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """One full response. With ``json_schema`` the text is JSON matching it (best effort)."""

    @abstractmethod
    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Stream:
        """A streamed response; ``Stream.completion`` carries text and usage at the end."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` with this model's tokenizer (or the closest available one)."""

    def count_message_tokens(self, messages: list[Message]) -> int:
        """Prompt tokens of a chat request, by OpenAI's published recipe (see :func:`count_chat_tokens`)."""
        return count_chat_tokens([m.model_dump() for m in messages], self.count_tokens)


def count_chat_tokens(messages: Iterable[Mapping[str, str]], count: Callable[[str], int]) -> int:
    """Tokens a chat request's messages take: OpenAI's recipe from the cookbook "How to count tokens
    with tiktoken", which matched the usage the API reported for gpt-3.5-turbo, gpt-4, gpt-4o and
    gpt-4o-mini: 3 per message, its values (role, content, name), 1 more for a name, 3 to prime the reply.
    """
    total = 3
    for message in messages:
        total += 3 + sum(count(value) for value in message.values())
        total += 1 if "name" in message else 0
    return total


def complete_json(
    llm: ChatModel,
    messages: list[Message],
    json_schema: dict[str, Any],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> Completion:
    """``llm.complete`` with a schema, sent again (at most :data:`STRUCTURED_FALLBACKS` times) while the
    server refuses a form of structured output. ``extra["rejected_requests"]`` counts the refused ones."""
    rejected = 0
    while True:
        try:
            completion = llm.complete(messages, json_schema=json_schema, max_tokens=max_tokens, temperature=temperature)
        except StructuredFormatRejected:
            rejected += 1
            if rejected > STRUCTURED_FALLBACKS:
                raise
            continue
        if rejected:
            completion.extra["rejected_requests"] = rejected
        return completion
