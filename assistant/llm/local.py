"""The embedded default: a GGUF model run in-process by llama-cpp-python.

One ``Llama`` instance per model file per process (loading maps 1 GB of weights); a lock
serialises generation because a llama.cpp context is not thread-safe. Structured output uses
llama.cpp's JSON-schema grammar, which small models need to produce valid JSON reliably.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.llm.base import ChatModel, Completion, Message, Stream, Usage

_instances: dict[tuple[str, int, int], Any] = {}
_instances_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free models before interpreter teardown (llama-cpp's __del__ fails noisily at exit)."""
    with _instances_lock:
        for llm in _instances.values():
            llm.close()
        _instances.clear()


def _load(path: Path, n_ctx: int, n_threads: int) -> Any:
    key = (str(path), n_ctx, n_threads)
    with _instances_lock:
        if key not in _instances:
            from llama_cpp import Llama  # heavy import, only when the local model is used

            _instances[key] = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )
        return _instances[key]


class LocalChatModel(ChatModel):
    provider = "local"

    def __init__(
        self,
        model_path: Path,
        model_name: str,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        default_max_tokens: int = 512,
        default_temperature: float = 0.1,
        seed: int = 7,
    ) -> None:
        self.model = model_name
        self._llm = _load(model_path, n_ctx, n_threads)
        self._lock = threading.Lock()
        self._max_tokens = default_max_tokens
        self._temperature = default_temperature
        self._seed = seed

    def _args(self, messages: list[Message], max_tokens: int | None, temperature: float | None) -> dict[str, Any]:
        return {
            "messages": [m.model_dump() for m in messages],
            "max_tokens": max_tokens or self._max_tokens,
            "temperature": self._temperature if temperature is None else temperature,
            "seed": self._seed,
            "repeat_penalty": 1.1,
        }

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
            args["response_format"] = {"type": "json_object", "schema": json_schema}
        start = time.perf_counter()
        with self._lock:
            self._llm.reset()
            out = self._llm.create_chat_completion(**args)
        usage = out.get("usage") or {}
        return Completion(
            text=out["choices"][0]["message"]["content"] or "",
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                source="counted",
            ),
            provider=self.provider,
            model=self.model,
            latency_s=time.perf_counter() - start,
            extra={"finish_reason": out["choices"][0].get("finish_reason")},
        )

    def stream(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> Stream:
        args = self._args(messages, max_tokens, temperature)

        def pieces() -> Iterator[str]:
            start = time.perf_counter()
            parts: list[str] = []
            generated = 0
            finish = None
            with self._lock:
                self._llm.reset()
                for chunk in self._llm.create_chat_completion(stream=True, **args):
                    finish = chunk["choices"][0].get("finish_reason") or finish
                    delta = chunk["choices"][0].get("delta", {}).get("content")
                    if delta:
                        generated += 1
                        parts.append(delta)
                        yield delta
                total = int(self._llm.n_tokens)
            handle.completion = Completion(
                text="".join(parts),
                usage=Usage(prompt_tokens=max(total - generated, 0), completion_tokens=generated, source="counted"),
                provider=self.provider,
                model=self.model,
                latency_s=time.perf_counter() - start,
                extra={"finish_reason": finish},
            )

        handle = Stream(pieces())
        return handle

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
