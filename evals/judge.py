"""The ragas judge: our own chat model behind ragas' LLM interface, and a committed cache of its calls.

``JudgeLLM`` sends each ragas prompt to a :class:`ChatModel` (through the accounting layer, feature
"eval") at temperature 0, passing the JSON schema that ragas embeds in the prompt so small local models
produce valid JSON. ragas asks for ``n`` generations in one call (answer relevancy); a deterministic
judge would return the same text n times, so it is generated once and repeated.

``JudgeCache`` implements ragas' ``CacheInterface`` as a JSON Lines file keyed by ragas' own cache key
(sha256 of the function name and its arguments). Recording writes it; replay reads it and, on a miss,
never calls a model: the miss is counted and reported as a stale recording.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.outputs import Generation, LLMResult
from pydantic import BaseModel, Field
from ragas.cache import CacheInterface
from ragas.embeddings.base import BaseRagasEmbeddings
from ragas.llms.base import BaseRagasLLM
from ragas.run_config import RunConfig

from assistant.errors import TutorError
from assistant.llm.base import ChatModel, Message, Usage
from evals.models import Validity

if TYPE_CHECKING:
    from langchain_core.callbacks import Callbacks
    from langchain_core.prompt_values import PromptValue
    from llama_index.core.base.embeddings.base import BaseEmbedding

JUDGE_MAX_TOKENS = 768
# One ragas job (a metric on one item, e.g. context precision: one call per context) may take many
# minutes on a busy 2-core machine; a timeout turns it into a silent NaN, so it is generous.
JOB_TIMEOUT_S = 3600
_SCHEMA = re.compile(r"as specified in JSON Schema:\n(\{.*?\})Do not use single quotes", re.DOTALL)

# The golden item and metric being scored, so cache entries, misses and invalid outputs can name them.
current_item: contextvars.ContextVar[str] = contextvars.ContextVar("current_item", default="")
current_metric: contextvars.ContextVar[str] = contextvars.ContextVar("current_metric", default="")
# The list each ragas output model must fill for the verdict to mean anything; an empty one is unusable.
_MUST_FILL = ("statements", "classifications")
_BINARY = ("verdict", "noncommittal", "attributed")


def usable_output(text: str) -> bool:
    """Whether a judge output can carry a verdict: a JSON object whose lists of statements or
    classifications are non-empty, whose verdict flags are 0 or 1, and whose generated question is not
    blank. ragas scores an empty list as NaN or, for some metrics, as a perfect score; both are unusable."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return False
    if not isinstance(data, dict) or not data:
        return False
    for key in _MUST_FILL:
        if key in data and not (isinstance(data[key], list) and data[key]):
            return False
    rows = [data, *(r for k in _MUST_FILL for r in data.get(k, []) if isinstance(r, dict))]
    if any(k in r and r[k] not in (0, 1) for r in rows for k in _BINARY):
        return False
    if {"TP", "FP", "FN"} <= data.keys() and not any(data[k] for k in ("TP", "FP", "FN")):
        return False
    return not ("question" in data and not str(data["question"]).strip())


class StaleJudgeError(TutorError):
    """A judge call was not in the recorded cache."""


def schema_from_prompt(text: str) -> dict[str, Any] | None:
    match = _SCHEMA.search(text)
    if not match:
        return None
    try:
        schema = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    return schema if isinstance(schema, dict) else None


# -- the cache ----------------------------------------------------------------------------------
class CacheEntry(BaseModel):
    key: str
    kind: Literal["llm", "embedding", "embeddings"]
    item: str = ""
    metric: str = ""
    texts: list[str] = Field(default_factory=list)
    vector: list[float] = Field(default_factory=list)
    vectors: list[list[float]] = Field(default_factory=list)
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0


class JudgeCache(CacheInterface):
    def __init__(self, path: Path | None, mode: Literal["record", "replay"]) -> None:
        self.path = path
        self.mode = mode
        self.entries: dict[str, CacheEntry] = {}
        self.misses: list[tuple[str, str]] = []  # (item, key)
        self.hits = 0
        self.used: set[str] = set()
        self.outputs: list[tuple[str, str, bool]] = []  # (item, metric, usable) per judge call served or made
        self._lock = threading.Lock()
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = CacheEntry.model_validate_json(line)
                    self.entries[entry.key] = entry

    def has_key(self, key: str) -> bool:
        with self._lock:
            if key in self.entries:
                self.hits += 1
                self.used.add(key)
                return True
            if self.mode == "replay":
                self.misses.append((current_item.get(), key))
            return False

    def note_failed(self) -> None:
        """A judge call that returned nothing (an API error): it counts as an unusable call."""
        with self._lock:
            self.outputs.append((current_item.get(), current_metric.get(), False))

    def _note(self, entry: CacheEntry) -> None:
        with self._lock:
            self.outputs.append((current_item.get(), current_metric.get(), all(usable_output(t) for t in entry.texts)))

    def get(self, key: str) -> Any:
        entry = self.entries[key]
        if entry.kind == "llm":
            self._note(entry)
            gens = [Generation(text=t, generation_info={"finish_reason": "stop"}) for t in entry.texts]
            return LLMResult(generations=[gens], llm_output={"model": entry.model})
        if entry.kind == "embedding":
            return list(entry.vector)
        return [list(v) for v in entry.vectors]

    def set(self, key: str, value: Any) -> None:
        entry = CacheEntry(key=key, kind="llm", item=current_item.get(), metric=current_metric.get())
        if isinstance(value, LLMResult):
            entry.texts = [g.text for g in value.generations[0]]
            meta = value.llm_output or {}
            entry.model = str(meta.get("model", ""))
            entry.prompt_tokens = int(meta.get("prompt_tokens", 0))
            entry.completion_tokens = int(meta.get("completion_tokens", 0))
            entry.cost_usd = float(meta.get("cost_usd", 0.0))
            entry.latency_s = round(float(meta.get("latency_s", 0.0)), 3)
        elif value and isinstance(value[0], list):
            entry.kind, entry.vectors = "embeddings", [[float(x) for x in v] for v in value]
        else:
            entry.kind, entry.vector = "embedding", [float(x) for x in value]
        with self._lock:
            self.entries[key] = entry
            self.used.add(key)
        if entry.kind == "llm":
            self._note(entry)

    def save(self, path: Path | None = None, *, only_used: bool = False) -> None:
        """Write the entries sorted by key (stable diffs); ``only_used`` drops judgements of old answers."""
        target = path or self.path
        if target is None:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.used if only_used else self.entries)
        rows = [self.entries[k].model_dump(mode="json", exclude_defaults=True) for k in keys]
        target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    def unusable(self, item: str, metric: str) -> bool:
        """Whether any judge call for this item and metric returned unusable output."""
        return any(i == item and m == metric and not ok for i, m, ok in self.outputs)

    def validity(self) -> dict[str, Validity]:
        """metric -> usable calls, over every judge call served or made so far."""
        out: dict[str, Validity] = {}
        for _, metric, ok in self.outputs:
            counts = out.setdefault(metric or "unknown", Validity())
            counts.valid += ok
            counts.total += 1
        return dict(sorted(out.items()))

    def miss_items(self) -> list[str]:
        return sorted({item or "?" for item, _ in self.misses})


# -- the judge LLM ------------------------------------------------------------------------------
class JudgeLLM(BaseRagasLLM):
    """ragas' LLM interface over our ChatModel; ``model=None`` (replay) refuses every call."""

    def __init__(
        self,
        model: ChatModel | None,
        *,
        cache: CacheInterface | None = None,
        max_tokens: int = JUDGE_MAX_TOKENS,
        run_config: RunConfig | None = None,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.usage = Usage(source="counted")
        self.cost_usd = 0.0
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()
        super().__init__(
            run_config=run_config or RunConfig(timeout=JOB_TIMEOUT_S, max_retries=1, max_workers=1), cache=cache
        )

    @property
    def name(self) -> str:
        return f"{self.model.provider}/{self.model.model}" if self.model else "replay"

    def _generate(self, prompt: PromptValue, n: int) -> LLMResult:
        if self.model is None:
            raise StaleJudgeError(
                f"A judge call for item '{current_item.get()}' is not in the recording.",
                "re-record with `make evals` (the answers, contexts or ragas prompts changed).",
            )
        text = prompt.to_string()
        try:
            completion = self.model.complete(
                [Message(role="user", content=text)],
                json_schema=schema_from_prompt(text),
                max_tokens=self.max_tokens,
                temperature=0.0,
            )
        except TutorError:  # no output at all: an unusable call (the score goes missing), counted
            if isinstance(self.cache, JudgeCache):
                self.cache.note_failed()
            raise
        with self._lock:
            self.calls += 1
            self.usage.prompt_tokens += completion.usage.prompt_tokens
            self.usage.completion_tokens += completion.usage.completion_tokens
            self.cost_usd += completion.cost_usd
            self.seconds += completion.latency_s
        gens = [Generation(text=completion.text, generation_info={"finish_reason": "stop"}) for _ in range(max(n, 1))]
        meta = {
            "model": f"{completion.provider}/{completion.model}",
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
            "cost_usd": completion.cost_usd,
            "latency_s": completion.latency_s,
        }
        return LLMResult(generations=[gens], llm_output=meta)

    def generate_text(
        self,
        prompt: PromptValue,
        n: int = 1,
        temperature: float = 0.01,
        stop: list[str] | None = None,
        callbacks: Callbacks = None,
    ) -> LLMResult:
        return self._generate(prompt, n)

    async def agenerate_text(
        self,
        prompt: PromptValue,
        n: int = 1,
        temperature: float | None = 0.01,
        stop: list[str] | None = None,
        callbacks: Callbacks = None,
    ) -> LLMResult:
        ctx = contextvars.copy_context()
        return await asyncio.to_thread(ctx.run, self._generate, prompt, n)

    def is_finished(self, response: LLMResult) -> bool:
        return True


class JudgeEmbeddings(BaseRagasEmbeddings):
    """Our MiniLM embedder for answer relevancy; ``embedder=None`` (replay) serves only the cache."""

    def __init__(self, embedder: BaseEmbedding | None, *, cache: CacheInterface | None = None) -> None:
        self.embedder = embedder
        super().__init__(cache=cache)
        self.set_run_config(RunConfig(timeout=JOB_TIMEOUT_S, max_retries=1, max_workers=1))

    def _need(self) -> BaseEmbedding:
        if self.embedder is None:
            raise StaleJudgeError(
                f"An embedding for item '{current_item.get()}' is not in the recording.",
                "re-record with `make evals`.",
            )
        return self.embedder

    def embed_query(self, text: str) -> list[float]:
        return list(self._need().get_query_embedding(text))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(v) for v in self._need().get_text_embedding_batch(texts)]

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)


def merged_validity(cache: JudgeCache, redone: set[str]) -> dict[str, Validity]:
    """Usable judge calls over a merged recording: the calls just made, plus the kept items' cached ones."""
    counts = cache.validity()
    for entry in cache.entries.values():
        if entry.kind == "llm" and entry.item and entry.item not in redone:
            found = counts.setdefault(entry.metric or "unknown", Validity())
            found.valid += all(usable_output(t) for t in entry.texts)
            found.total += 1
    return dict(sorted(counts.items()))
