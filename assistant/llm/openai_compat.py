"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through ``openai``.

Retries with exponential backoff on 408/409/429/5xx and connection errors are the ``openai``
client's own (``max_retries``); every failure that survives them becomes a one-line
:class:`LLMError` that names the fix. Streams ask the server for usage in the last chunk.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import openai
import tiktoken

from assistant.errors import LLMError
from assistant.llm.base import ChatModel, Completion, Message, Stream, Usage


@lru_cache(maxsize=8)
def encoding_for(model: str) -> tiktoken.Encoding:
    """tiktoken's encoding for an OpenAI model; cl100k_base for names it does not know."""
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("o200k_base" if model.startswith(("gpt-4o", "gpt-4.1", "o")) else "cl100k_base")


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", 0) if details is not None else 0
    return Usage(
        prompt_tokens=raw.prompt_tokens or 0,
        completion_tokens=raw.completion_tokens or 0,
        cached_prompt_tokens=cached or 0,
        source="provider",
    )


class OpenAIChatModel(ChatModel):
    provider = "openai"

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        api_key: str,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        default_max_tokens: int = 512,
        default_temperature: float = 0.1,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries)
        self._timeout = timeout_s
        self._max_tokens = default_max_tokens
        self._temperature = default_temperature

    # -- errors -----------------------------------------------------------------------------
    def _error(self, exc: Exception) -> LLMError:
        where = f"the OpenAI-compatible server at {self.base_url}"
        if isinstance(exc, openai.AuthenticationError):
            return LLMError(f"{where} rejected the API key (401).", "set a valid OPENAI_API_KEY.")
        if isinstance(exc, openai.PermissionDeniedError):
            return LLMError(f"{where} refused access (403).", "check the key's permissions.")
        if isinstance(exc, openai.NotFoundError):
            return LLMError(
                f"{where} has no model '{self.model}' (404).",
                "set CHAT_MODEL to a model the server serves, or fix OPENAI_BASE_URL.",
            )
        if isinstance(exc, openai.RateLimitError):
            return LLMError(f"{where} is rate limiting (429) after retries.", "wait and try again.")
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(
                f"{where} did not answer within {self._timeout:g} s.",
                "raise LLM_TIMEOUT_S or check the server.",
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"Cannot reach {where}.", "check OPENAI_BASE_URL and that the server runs.")
        if isinstance(exc, openai.APIStatusError):
            return LLMError(f"{where} failed with HTTP {exc.status_code} after retries.", "try again later.")
        return LLMError(f"{where} returned an unusable response: {type(exc).__name__}.", "try again.")

    def _args(self, messages: list[Message], max_tokens: int | None, temperature: float | None) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": max_tokens or self._max_tokens,
            "temperature": self._temperature if temperature is None else temperature,
        }

    # -- calls ------------------------------------------------------------------------------
    def complete(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        args = self._args(messages, max_tokens, temperature)
        if json_schema is not None:
            args["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": json_schema.get("title", "output"), "schema": json_schema},
            }
        start = time.perf_counter()
        try:
            out = self._client.chat.completions.create(**args)
            text = out.choices[0].message.content or ""
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
        except (AttributeError, IndexError, TypeError) as exc:
            raise self._error(exc) from None
        usage = _usage(out.usage) or self._counted(messages, text)
        return Completion(
            text=text,
            usage=usage,
            provider=self.provider,
            model=out.model or self.model,
            latency_s=time.perf_counter() - start,
        )

    def stream(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> Stream:
        args = self._args(messages, max_tokens, temperature)
        start = time.perf_counter()
        try:
            chunks = self._client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **args)
        except openai.OpenAIError as exc:
            raise self._error(exc) from None

        def pieces() -> Iterator[str]:
            parts: list[str] = []
            usage: Usage | None = None
            model = self.model
            try:
                for chunk in chunks:
                    model = chunk.model or model
                    usage = _usage(chunk.usage) or usage
                    if chunk.choices:
                        delta = chunk.choices[0].delta.content
                        if delta:
                            parts.append(delta)
                            yield delta
            except openai.OpenAIError as exc:
                raise self._error(exc) from None
            text = "".join(parts)
            handle.completion = Completion(
                text=text,
                usage=usage or self._counted(messages, text),
                provider=self.provider,
                model=model,
                latency_s=time.perf_counter() - start,
            )

        handle = Stream(pieces())
        return handle

    def _counted(self, messages: list[Message], text: str) -> Usage:
        return Usage(
            prompt_tokens=self.count_message_tokens(messages),
            completion_tokens=self.count_tokens(text),
            source="counted",
        )

    def count_tokens(self, text: str) -> int:
        return len(encoding_for(self.model).encode(text, disallowed_special=()))
