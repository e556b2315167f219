"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through ``openai``.

Retries with exponential backoff are the ``openai`` client's own (``max_retries``), but only for what a
retry can fix (:func:`retry_can_fix`): 408, 429, 502/503/504, timeouts and connection errors, and a 500
whose body does not state a problem with the request. Every failure that survives them becomes a
one-line :class:`LLMError` that names the fix and quotes the server's reason, sanitised
(:func:`sanitize_reason`: one line, at most 200 characters, no control characters, the API key, other
key-like tokens and ``user:password@`` taken out). Streams ask the server for usage in the last chunk.

Structured output is negotiated per server (:class:`StructuredModes`, per base URL and model, for the
process): ``json_schema`` (strict when the schema allows it), then llama.cpp's ``json_object`` with a
``schema``, then plain text with the schema in the prompt. The first structured request in a form is a
probe, sent without the client's retries; when the server refuses the form (:func:`rejects_form`) the
next form is remembered and :class:`StructuredFormatRejected` is raised, so the caller sends the request
again (:func:`assistant.llm.base.complete_json`) and each request is one ledger row.

Replies are read as plain JSON and checked here (:func:`parse_completion`, :func:`parse_chunk`), so a
half-compatible server cannot pass off a cut, empty or misread answer as a good one: a body or stream
chunk that is not JSON, or not shaped like the OpenAI API's, a stream that breaks off, stalls past
``LLM_TIMEOUT_S`` or ends without a ``finish_reason``, and an answer with no text are all errors.
Messages name the server by its URL without credentials or query.
"""

from __future__ import annotations

import copy
import html
import json
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
import openai
import tiktoken

from assistant.errors import LLMError
from assistant.llm.base import ChatModel, Completion, Message, Stream, StructuredFormatRejected, Usage
from assistant.text import strip_credentials

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


# -- the server's words, as they may be shown ------------------------------------------------------
REASON_CHARS = 200
REDACTED = "[redacted]"
_BEARER = re.compile(r"(?i)\b(bearer\s+)\S+")
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}")
_QUERY_SECRET = re.compile(r"(?i)([?&;](?:api[-_]?key|key|token|access_token|password|secret)=)[^&\s\"']+")
_TAG = re.compile(r"<[^>]*>")


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` that must never be shown: its user name, password and query values."""
    try:
        parts = urlsplit(url)
        found = [parts.username or "", parts.password or ""]
        found += [value for _, value in parse_qsl(parts.query)]
    except ValueError:
        return []
    return [s for s in found if s]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` without the given secrets (4 characters or more), ``user:pw@`` in URLs, bearer tokens,
    ``sk-...`` keys and secret-looking query values."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = strip_credentials(text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _KEY_LIKE.sub(REDACTED, text)
    return _QUERY_SECRET.sub(rf"\1{REDACTED}", text)


def sanitize_reason(text: str, secrets: Iterable[str] = ()) -> str:
    """A server's error text as it may be shown in a one-line error: control characters removed, secrets
    redacted, its first line (with the next one when the first only introduces it, as in "1 validation
    error:"), whitespace collapsed, without a closing period, at most :data:`REASON_CHARS` characters (a
    longer one is cut and ends in an ellipsis)."""
    text = text.replace("\r", "\n").replace("\t", " ")
    text = "".join(ch for ch in text if ch == "\n" or not unicodedata.category(ch).startswith("C"))
    if text.lstrip().startswith("<"):  # an HTML error page: its words
        text = html.unescape(_TAG.sub("\n", text))
    text = redact(text, secrets)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    if first.endswith(":") and len(lines) > 1:
        first += " " + lines[1]
    first = " ".join(first.split()).rstrip(".")
    if len(first) > REASON_CHARS:
        first = first[: REASON_CHARS - 1].rstrip() + "\u2026"
    return first


def error_text(exc: openai.APIStatusError) -> str:
    """What the server said went wrong, raw: the error's ``message`` (OpenAI's shape), a FastAPI
    ``detail``, or the body as text."""
    body: object = exc.body
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, list):  # FastAPI's 422: [{"loc": [...], "msg": "..."}]
                value = "; ".join(
                    f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg', '')}"
                    for item in value
                    if isinstance(item, dict)
                )
            if isinstance(value, str) and value.strip():
                return value
        return ""
    return body if isinstance(body, str) else ""


# -- retries ---------------------------------------------------------------------------------------
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
PROBE_RETRY_DELAY_S = 0.5  # before a probe that met a busy server is sent again (the client's first backoff)
# Words of a body that says the request itself is the problem: sending it again would fail the same way.
REQUEST_PROBLEM = re.compile(
    r"response_format|json_schema|json_object|schema|grammar|validation|invalid|not supported|unsupported"
    r"|unrecognized|unknown (?:field|param|argument)|extra (?:field|input)|must be|too long|too many tokens"
    r"|context (?:length|window|size)|exceed",
    re.IGNORECASE,
)


def _body(response: httpx.Response) -> str:
    try:
        response.read()
        return response.text
    except (httpx.HTTPError, httpx.StreamError, ValueError):  # UnicodeDecodeError is a ValueError
        return ""


def retry_can_fix(response: httpx.Response) -> bool:
    """Whether sending the request again may succeed: 408, 429, 502/503/504, and a 500 whose body does
    not state a problem with the request. Never 400, 422 and other 4xx, nor a 500 that explains itself."""
    if response.status_code in RETRY_STATUSES:
        return True
    return response.status_code == 500 and not REQUEST_PROBLEM.search(_body(response))


class RetryingClient(openai.OpenAI):
    """The ``openai`` client, retrying only what :func:`retry_can_fix` (its checks of ``Retry-After``
    and ``x-should-retry`` still apply). Timeouts and connection errors are retried as before."""

    def _should_retry(self, response: httpx.Response) -> bool:
        return retry_can_fix(response) and super()._should_retry(response)


def _transient(exc: BaseException) -> bool:
    """A failure that says nothing about the request: busy, rate limited, unreachable, too slow."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUSES
    return isinstance(exc, openai.APIConnectionError)  # timeouts included


# -- structured output -----------------------------------------------------------------------------
Form = Literal["json_schema", "json_object", "text"]
FORMS: tuple[Form, ...] = ("json_schema", "json_object", "text")
SCHEMA_INSTRUCTION = "Reply with only one JSON object, no other text, that matches this JSON schema:"
# Statuses that are about the key, the model, the load or the size, never about the form of output.
NOT_ABOUT_FORM = frozenset({401, 403, 404, 408, 409, 413, 429, 502, 503, 504})
FORM_WORDS = re.compile(r"response_format|json_schema|json_object|schema|grammar|structured", re.IGNORECASE)
PROMPT_WORDS = re.compile(
    r"context (?:length|window|size)|too long|too many tokens|max_tokens|maximum context|exceed", re.IGNORECASE
)


def rejects_form(exc: BaseException) -> bool:
    """Whether a failed probe (the first structured request in a form) says the server does not take that
    form. Any status but those about the key, the model, the load or the size (:data:`NOT_ABOUT_FORM`)
    counts: 400 and 422 as most servers answer an unknown field, and 500 (llama-cpp-python answers
    ``json_schema`` with a 500 and a validation error; a bare 500 on a probe is taken as a refusal too, as
    a server that crashes on the form would answer), unless the body says the prompt is too long and does
    not name the response format or schema."""
    if not isinstance(exc, openai.APIStatusError) or exc.status_code in NOT_ABOUT_FORM:
        return False
    said = error_text(exc)
    return bool(FORM_WORDS.search(said)) or not PROMPT_WORDS.search(said)


class StructuredModes:
    """Which form of structured output each server takes, per (base URL, model), for this process.

    A server starts at ``json_schema``, unconfirmed. The first request in an unconfirmed form is a probe:
    accepted, the form is confirmed and used from then on; refused, the next form becomes current (only if
    the refused one still is: two threads probing at once move it one step). ``text`` needs no probe.
    A refusal of a confirmed form is an ordinary error and changes nothing. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modes: dict[tuple[str, str], tuple[Form, bool]] = {}

    def get(self, key: tuple[str, str]) -> tuple[Form, bool]:
        """The current form and whether it is confirmed."""
        with self._lock:
            return self._modes.get(key, (FORMS[0], False))

    def confirm(self, key: tuple[str, str], form: Form) -> None:
        with self._lock:
            if self._modes.get(key, (FORMS[0], False))[0] == form:
                self._modes[key] = (form, True)

    def reject(self, key: tuple[str, str], form: Form) -> Form:
        """Move past ``form`` if it is current and unconfirmed; the form to use next."""
        with self._lock:
            current, confirmed = self._modes.get(key, (FORMS[0], False))
            if current == form and not confirmed and form != FORMS[-1]:
                current = FORMS[FORMS.index(form) + 1]
                self._modes[key] = (current, current == FORMS[-1])
            return current

    def clear(self) -> None:
        with self._lock:
            self._modes.clear()


STRUCTURED_MODES = StructuredModes()


def strict_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """``schema`` for OpenAI's strict mode (every object closed with ``additionalProperties: false``), or
    None when strictness would change its meaning (an object with optional or open-ended properties)."""
    out = copy.deepcopy(schema)

    def close(node: object) -> bool:
        if not isinstance(node, dict):
            return True
        subs: list[object] = []
        props = node.get("properties")
        if node.get("type") == "object" or isinstance(props, dict):
            props = props if isinstance(props, dict) else {}
            if set(node.get("required", ())) != set(props) or node.get("additionalProperties", False) is not False:
                return False
            node["additionalProperties"] = False
            subs += props.values()
        for key in ("$defs", "definitions"):
            if isinstance(node.get(key), dict):
                subs += node[key].values()
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            if isinstance(node.get(key), list):
                subs += node[key]
        subs.append(node.get("items"))
        return all(close(sub) for sub in subs)

    return out if close(out) else None


def with_schema_prompt(messages: list[dict[str, Any]], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages with :data:`SCHEMA_INSTRUCTION` and the schema added to the last user message (or
    as a new one), for servers that do not take the schema as a response format."""
    note = f"{SCHEMA_INSTRUCTION}\n{json.dumps(schema, separators=(',', ':'))}"
    if messages and messages[-1].get("role") == "user":
        last = messages[-1]
        return [*messages[:-1], {**last, "content": f"{last.get('content', '')}\n\n{note}"}]
    return [*messages, {"role": "user", "content": note}]


def structured_args(form: Form, schema: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The request fields that ask for ``schema`` in ``form``."""
    if form == "json_schema":
        name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "output"))[:64]
        strict = strict_schema(schema)
        spec: dict[str, Any] = {"name": name, "schema": strict or schema}
        if strict is not None:
            spec["strict"] = True
        return {"response_format": {"type": "json_schema", "json_schema": spec}}
    prompted = {"messages": with_schema_prompt(messages, schema)}
    if form == "json_object":  # llama.cpp's form: the schema becomes a grammar
        return {**prompted, "response_format": {"type": "json_object", "schema": schema}}
    return prompted


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
        modes: StructuredModes | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self._client = RetryingClient(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries)
        self._probe_client = self._client.with_options(max_retries=0)
        self._retries = max_retries
        self._secrets = [api_key, *url_secrets(base_url)]
        self._modes = modes or STRUCTURED_MODES
        self._mode_key = (base_url, model)
        self._timeout = timeout_s
        self._max_tokens = default_max_tokens
        self._temperature = default_temperature

    # -- errors -----------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        return f"the OpenAI-compatible server at {public_url(self.base_url)}"

    def _reason(self, exc: openai.APIStatusError) -> str:
        """``": <the server's reason>"``, sanitised, or "" when it gave none."""
        reason = sanitize_reason(error_text(exc), self._secrets)
        return f": {reason}" if reason else ""

    def _error(self, exc: BaseException) -> LLMError:
        """One line naming what went wrong and the fix; the server's reason only sanitised
        (:func:`sanitize_reason`: the key and credentials redacted), never a traceback."""
        where = self._where
        if isinstance(exc, openai.AuthenticationError):
            return LLMError(f"{where} rejected the API key (401).", "set a valid OPENAI_API_KEY.")
        if isinstance(exc, openai.PermissionDeniedError):
            return LLMError(f"{where} refused access (403{self._reason(exc)}).", "check the key's permissions.")
        if isinstance(exc, openai.NotFoundError):
            return LLMError(
                f"{where} has no model '{self.model}' (404{self._reason(exc)}).",
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
            code, said = exc.status_code, self._reason(exc)
            if retry_can_fix(exc.response):
                after = " after retries" if self._retries else ""
                return LLMError(
                    f"{where} failed with HTTP {code}{after}{said}.",
                    "try again later; if it repeats, check the server's logs.",
                )
            if code >= 500:
                return LLMError(
                    f"{where} failed with HTTP {code}{said}.",
                    "check the server's logs and what it says of the request (a retry would fail the same way).",
                )
            return LLMError(
                f"{where} refused the request (HTTP {code}{said}).",
                "check the server's logs: the prompt may be too long for CHAT_MODEL, or the server may not"
                " support the request.",
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

    def _rejected(self, form: Form, exc: openai.APIStatusError) -> StructuredFormatRejected:
        """The server refused ``form`` on a probe: remember the next form and say so in one line."""
        after = self._modes.reject(self._mode_key, form)
        return StructuredFormatRejected(
            f"{self._where} does not take structured output as {form} (HTTP {exc.status_code}{self._reason(exc)});"
            f" its next requests ask for {after}.",
            "send the request again (quizzes and interviews do so by themselves).",
        )

    # -- calls ------------------------------------------------------------------------------
    def _post(self, args: dict[str, Any], probe: bool) -> object:
        """POST a chat request; a probe goes without the client's retries, so a refusal is seen at once,
        and is sent again with them only when it failed for a reason that is not about the request."""
        # cast_to=object: the JSON as sent (a str when it was not JSON), checked by parse_completion
        if not probe:
            return self._client.post("/chat/completions", body=args, cast_to=object)
        try:
            return self._probe_client.post("/chat/completions", body=args, cast_to=object)
        except openai.OpenAIError as exc:
            if not (self._retries and _transient(exc)):
                raise
        time.sleep(PROBE_RETRY_DELAY_S)
        retry = self._client.with_options(max_retries=self._retries - 1)
        return retry.post("/chat/completions", body=args, cast_to=object)

    def complete(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        args = self._args(messages, max_tokens, temperature)
        form: Form | None = None
        probe = False
        if json_schema is not None:
            form, confirmed = self._modes.get(self._mode_key)
            probe = not confirmed
            args.update(structured_args(form, json_schema, args["messages"]))
        start = time.perf_counter()
        try:
            data = self._post(args, probe)
            if isinstance(data, str):
                raise NotJSON("the body")
            part = parse_completion(data)
            if form is not None:  # a completion came back: the server takes this form
                self._modes.confirm(self._mode_key, form)
            if not part.text:
                raise EmptyAnswer(_empty_reason(part.finish))
        except (openai.OpenAIError, httpx.HTTPError, ValueError, BadReply) as exc:
            if form is not None and probe and isinstance(exc, openai.APIStatusError) and rejects_form(exc):
                raise self._rejected(form, exc) from None
            raise self._error(exc) from None
        return Completion(
            text=part.text,
            usage=part.usage or self._counted(messages, part.text),
            provider=self.provider,
            model=part.model or self.model,
            latency_s=time.perf_counter() - start,
            extra={"finish_reason": part.finish, **({"structured_output": form} if form else {})},
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
                extra={"finish_reason": finish},
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
