"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through ``openai``.

Retries with exponential backoff on 408/409/429/5xx and connection errors are the ``openai``
client's own (``max_retries``); every failure that survives them becomes a one-line
:class:`LLMError` that names the fix. Streams ask the server for usage in the last chunk.

Replies are read as plain JSON and checked here (:func:`parse_completion`, :func:`parse_chunk`), so a
half-compatible server cannot pass off a cut, empty or misread answer as a good one: a body or stream
chunk that is not JSON, or not shaped like the OpenAI API's, a stream that breaks off, stalls past
``LLM_TIMEOUT_S`` or ends without a ``finish_reason``, and an answer with no text are all errors.
Messages name the server by its URL without credentials or query, and never quote what it sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
import tiktoken

from assistant.errors import LLMError
from assistant.llm.base import ChatModel, Completion, Message, Stream, Usage

FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls", "function_call"})
COMPAT_FIX = "check the server's logs and that OPENAI_BASE_URL is its OpenAI-compatible API (usually ending in /v1)."
RETRY_FIX = "try again; if it repeats, check the server's logs."


@lru_cache(maxsize=8)
def encoding_for(model: str) -> tiktoken.Encoding:
    """tiktoken's encoding for an OpenAI model; cl100k_base for names it does not know."""
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("o200k_base" if model.startswith(("gpt-4o", "gpt-4.1", "o")) else "cl100k_base")


def public_url(url: str) -> str:
    """``url`` as it may be shown: scheme, host, port and path; no user, password, query or fragment."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "OPENAI_BASE_URL"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path}"


# -- what the server sent -------------------------------------------------------------------------
class BadReply(Exception):
    """The reply is not what an OpenAI-compatible server sends; ``str`` says how, in our words only."""


class NotJSON(BadReply):
    """The body or a stream's ``data:`` line is not JSON."""


class Incomplete(BadReply):
    """A stream ended without a ``finish_reason``: the answer may be cut."""


class EmptyAnswer(BadReply):
    """The reply holds no text."""


@dataclass(frozen=True)
class Part:
    """What one reply or stream chunk holds."""

    text: str = ""
    usage: Usage | None = None
    model: str | None = None
    finish: str | None = None


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadReply(f"{what} is not a JSON object")
    return value


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_usage(raw: object) -> Usage | None:
    """The reported usage; None when absent or unusable (the call's tokens are counted instead)."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = _count(raw.get("prompt_tokens")), _count(raw.get("completion_tokens"))
    if prompt is None or completion is None:
        return None
    details = raw.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, cached_prompt_tokens=cached or 0, source="provider"
    )


def _model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) and model else None


def _finish(choice: dict[str, Any]) -> str | None:
    finish = choice.get("finish_reason")
    return finish if isinstance(finish, str) and finish else None


def _text(holder: dict[str, Any], what: str) -> str:
    content = holder.get("content")
    if content is not None and not isinstance(content, str):
        raise BadReply(f"{what}.content is not a string")
    return content or ""


def parse_completion(data: object) -> Part:
    """A non-streamed reply: ``choices[0].message.content`` and the usage."""
    body = _object(data, "the reply")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadReply("the reply has no 'choices' list with a choice in it")
    choice = _object(choices[0], "choices[0]")
    message = _object(choice.get("message"), "choices[0].message")
    text = _text(message, "choices[0].message")
    if not text and isinstance(message.get("refusal"), str):
        raise EmptyAnswer("the model refused")
    return Part(text=text, usage=parse_usage(body.get("usage")), model=_model(body), finish=_finish(choice))


def parse_chunk(data: object) -> Part:
    """One streamed chunk: the first choice's ``delta.content``, its ``finish_reason``, the usage.

    A chunk may leave out ``choices`` only to carry usage; a choice may leave out ``delta`` only to
    carry a finish reason or content-filter notes (Azure).
    """
    chunk = _object(data, "a stream chunk")
    usage = parse_usage(chunk.get("usage"))
    choices = chunk.get("choices")
    if choices is None and usage is not None:
        return Part(usage=usage, model=_model(chunk))
    if not isinstance(choices, list):
        raise BadReply("a stream chunk has no 'choices' list")
    text, finish = "", None
    for i, raw in enumerate(choices):
        choice = _object(raw, f"choices[{i}] of a stream chunk")
        if choice.get("index", 0) != 0:
            continue  # another completion (n > 1): never asked for
        delta = choice.get("delta")
        if delta is None and (_finish(choice) or "content_filter_results" in choice):
            delta = {}
        text += _text(_object(delta, "a stream chunk's delta"), "delta")
        finish = _finish(choice) or finish
    return Part(text=text, usage=usage, model=_model(chunk), finish=finish)


def _empty_reason(finish: str | None) -> str:
    return f"finish_reason {finish}" if finish in FINISH_REASONS and finish != "stop" else "no text"


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
    def _error(self, exc: BaseException) -> LLMError:
        """One line naming what went wrong and the fix; never the server's words, the key or a traceback."""
        where = f"the OpenAI-compatible server at {public_url(self.base_url)}"
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
            if isinstance(exc.__cause__, httpx.RemoteProtocolError | httpx.ReadError):
                return LLMError(f"{where} closed the connection before a complete response.", COMPAT_FIX)
            return LLMError(f"Cannot reach {where}.", "check OPENAI_BASE_URL and that the server runs.")
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code >= 500:
                return LLMError(
                    f"{where} failed with HTTP {exc.status_code} after retries.",
                    "try again later; if it repeats, check the server's logs.",
                )
            return LLMError(
                f"{where} refused the request (HTTP {exc.status_code}).",
                "check the server's logs: the prompt may be too long for CHAT_MODEL, or the server may not"
                " support the request (structured output).",
            )
        if isinstance(exc, openai.APIError):  # an error event inside a stream
            return LLMError(f"{where} reported an error mid-stream.", RETRY_FIX)
        if isinstance(exc, httpx.TimeoutException):
            return LLMError(
                f"{where} sent nothing for {self._timeout:g} s mid-answer.", "raise LLM_TIMEOUT_S or check the server."
            )
        if isinstance(exc, httpx.HTTPError):
            return LLMError(f"{where} broke off the answer mid-stream (the connection closed).", RETRY_FIX)
        if isinstance(exc, NotJSON | json.JSONDecodeError | UnicodeDecodeError):
            return LLMError(f"{where} sent a reply that is not valid JSON.", COMPAT_FIX)
        if isinstance(exc, Incomplete):
            return LLMError(f"{where} ended the stream before the answer was finished ({exc}).", RETRY_FIX)
        if isinstance(exc, EmptyAnswer):
            return LLMError(
                f"{where} returned an empty answer ({exc}).",
                "check the server's logs and that CHAT_MODEL is a chat model it serves.",
            )
        if isinstance(exc, BadReply):
            return LLMError(f"{where} sent a reply not shaped like the OpenAI API's: {exc}.", COMPAT_FIX)
        return LLMError(f"{where} returned an unusable response: {type(exc).__name__}.", RETRY_FIX)

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
            # cast_to=object: the JSON as sent (a str when it was not JSON), checked by parse_completion
            data = self._client.post("/chat/completions", body=args, cast_to=object)
            if isinstance(data, str):
                raise NotJSON("the body")
            part = parse_completion(data)
            if not part.text:
                raise EmptyAnswer(_empty_reason(part.finish))
        except (openai.OpenAIError, httpx.HTTPError, ValueError, BadReply) as exc:
            raise self._error(exc) from None
        return Completion(
            text=part.text,
            usage=part.usage or self._counted(messages, part.text),
            provider=self.provider,
            model=part.model or self.model,
            latency_s=time.perf_counter() - start,
        )

    def stream(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> Stream:
        args = {**self._args(messages, max_tokens, temperature), "stream": True}
        args["stream_options"] = {"include_usage": True}
        start = time.perf_counter()
        try:
            events = self._client.post(
                "/chat/completions", body=args, cast_to=object, stream=True, stream_cls=openai.Stream[object]
            )
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
        kind = events.response.headers.get("content-type", "text/event-stream").split(";")[0].strip().lower()
        if kind != "text/event-stream":
            events.close()
            raise LLMError(
                f"the OpenAI-compatible server at {public_url(self.base_url)} did not answer a streamed request"
                " with an event stream.",
                COMPAT_FIX,
            )

        def pieces() -> Iterator[str]:
            parts: list[str] = []
            usage: Usage | None = None
            model, finish = self.model, None
            try:
                for data in events:
                    part = parse_chunk(data)
                    model, usage, finish = part.model or model, part.usage or usage, part.finish or finish
                    if part.text:
                        parts.append(part.text)
                        yield part.text
                if finish is None:
                    raise Incomplete("no finish_reason" if parts else "no text and no finish_reason")
                if not parts:
                    raise EmptyAnswer(_empty_reason(finish))
            except (openai.OpenAIError, httpx.HTTPError, ValueError, BadReply) as exc:
                raise self._error(exc) from None
            finally:
                events.close()
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
