"""Schema-constrained calls with bounded repair and retry, and a meter for what they cost.

Local models get the JSON schema as a llama.cpp grammar; OpenAI-compatible servers get it in the form
they take (``json_schema``, llama.cpp's ``json_object`` with a schema, or the schema in the prompt:
negotiated by the provider, a refused form sent again by :func:`complete_json`). Any of them can still
return something unusable (truncated JSON, prose around it, a value outside the schema). We repair what
is mechanical (code fences, text around the object), then retry with the validation error shown to the
model and a higher temperature (the local model is seeded, so the same prompt would give the same
output), and finally raise one clear :class:`StructuredOutputError` instead of crashing.
"""

from __future__ import annotations

import json
import re
import time
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from assistant.errors import StructuredOutputError
from assistant.llm.base import ChatModel, Completion, Message, complete_json
from assistant.practice.drafts import schema_of
from assistant.practice.models import Usage

T = TypeVar("T", bound=BaseModel)
RETRY_TEMPERATURE = 0.7
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class Meter:
    """Sums the calls a feature made (tokens, cost, time) for its report."""

    def __init__(self) -> None:
        self.usage = Usage()
        self._started = time.perf_counter()

    def add(self, completion: Completion) -> None:
        """One call, and the requests the server refused before it (a form of structured output)."""
        self.usage.calls += 1 + int(completion.extra.get("rejected_requests", 0))
        self.usage.prompt_tokens += completion.usage.prompt_tokens
        self.usage.completion_tokens += completion.usage.completion_tokens
        self.usage.cost_usd = round(self.usage.cost_usd + completion.cost_usd, 8)

    def finish(self) -> Usage:
        self.usage.seconds = round(time.perf_counter() - self._started, 3)
        return self.usage


def parse_json_object(text: str, model: type[T]) -> T:
    """Parse ``text`` as ``model``, repairing fences and text around the object; ValueError if unusable."""
    body = _FENCE.sub("", text.strip())
    if not body.startswith("{"):
        start, end = body.find("{"), body.rfind("}")
        if start == -1 or end <= start:
            raise ValueError("no JSON object in the output")
        body = body[start : end + 1]
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise ValueError("the output is JSON but not an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "object"
        raise ValueError(f"field '{where}': {err.get('msg')}") from None


def complete_structured(
    llm: ChatModel,
    messages: list[Message],
    model: type[T],
    *,
    what: str,
    max_tokens: int,
    attempts: int = 3,
    temperature: float | None = None,
    meter: Meter | None = None,
    raw_log: list[str] | None = None,
) -> T:
    """One structured answer, at most ``attempts`` calls; raises StructuredOutputError after that."""
    schema = schema_of(model)
    convo = list(messages)
    problem = "no attempt made"
    for attempt in range(max(1, attempts)):
        completion = complete_json(
            llm,
            convo,
            schema,
            max_tokens=max_tokens,
            temperature=temperature if attempt == 0 else max(temperature or 0.0, RETRY_TEMPERATURE),
        )
        if meter is not None:
            meter.add(completion)
        if raw_log is not None:
            raw_log.append(completion.text)
        try:
            return parse_json_object(completion.text, model)
        except ValueError as exc:
            problem = str(exc)
            if completion.extra.get("finish_reason") == "length":
                problem += " (the output was cut off at the token limit)"
        convo = [
            *messages,
            Message(role="assistant", content=completion.text[:2000]),
            Message(
                role="user",
                content=f"That output was not usable: {problem}. Reply again with only one JSON object "
                f"with exactly these fields: {', '.join(schema.get('properties', {}))}.",
            ),
        ]
    raise StructuredOutputError(
        f"The model did not produce a valid {what} after {max(1, attempts)} tries ({problem}).",
        "try again; if it keeps failing use the larger local model or PROVIDER=openai.",
    )
