"""The embedded default: a GGUF model run in-process by llama-cpp-python.

One ``Llama`` instance per model file per process (loading maps 1 GB of weights), used only by its
own worker thread (``worker.ModelWorker``): a llama.cpp context is not thread-safe, and two threads in
it abort the process. Every session of the app, and every thread of any caller, queues there. Token
counting, which accounting does on any thread at any time, uses a separate vocabulary-only copy of the
model under its own lock, so a count never waits behind a generation. The system turn is kept in the context
between calls and evaluated apart from the rest of the prompt every time (``prefix``). Structured output uses
llama.cpp's JSON-schema grammar, which small models need to produce valid JSON reliably.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.llm.base import ChatModel, Completion, Message, Stream, Usage
from assistant.llm.prefix import prepare_context
from assistant.llm.worker import ModelWorker

_workers: dict[tuple[str, int, int], ModelWorker[Any]] = {}
_vocabularies: dict[str, tuple[Any, threading.Lock]] = {}
_instances_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free models before interpreter teardown (llama-cpp's __del__ fails noisily at exit)."""
    with _instances_lock:
        for worker in _workers.values():
            if worker.waiting == 0:  # a job still running (an interrupted stream) is left to the exit
                worker.call(lambda llm: llm.close())
        for vocab, lock in _vocabularies.values():
            with lock:
                vocab.close()
        _workers.clear()
        _vocabularies.clear()


def _worker(path: Path, n_ctx: int, n_threads: int) -> ModelWorker[Any]:
    """The worker of this model file and context size, loading the model on first use."""
    key = (str(path), n_ctx, n_threads)
    with _instances_lock:
        if key not in _workers:
            from llama_cpp import Llama  # heavy import, only when the local model is used

            llm = Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False
            )
            _workers[key] = ModelWorker(llm, name=f"llama:{path.name}")
        return _workers[key]


def _vocabulary(path: Path) -> tuple[Any, threading.Lock]:
    """A vocabulary-only copy of the model (no weights) for counting tokens."""
    with _instances_lock:
        if str(path) not in _vocabularies:
            from llama_cpp import Llama

            with _quiet_stderr():  # llama.cpp warns that a vocabulary has no training context: true, and noise
                vocab = Llama(model_path=str(path), vocab_only=True, n_ctx=8, verbose=False)
            _vocabularies[str(path)] = (vocab, threading.Lock())
        return _vocabularies[str(path)]


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Native code's writes to file descriptor 2 go nowhere for the duration (a one-time load)."""
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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
        self._worker = _worker(model_path, n_ctx, n_threads)
        self._vocab, self._vocab_lock = _vocabulary(model_path)
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

        def run(llm: Any) -> dict[str, Any]:
            prepare_context(llm, messages)
            return llm.create_chat_completion(**args)  # type: ignore[no-any-return]

        out = self._worker.call(run)
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

        def generate(llm: Any) -> Generator[str, None, tuple[int, str | None]]:
            """On the worker thread: the pieces, then the context's token count and the finish reason."""
            finish = None
            prepare_context(llm, messages)
            for chunk in llm.create_chat_completion(stream=True, **args):
                finish = chunk["choices"][0].get("finish_reason") or finish
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
            return int(llm.n_tokens), finish

        def pieces() -> Iterator[str]:
            start = time.perf_counter()
            parts: list[str] = []
            ended = yield from _collect(self._worker.stream(generate), parts)
            total, finish = ended or (0, None)
            generated = len(parts)
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
        with self._vocab_lock:
            return len(self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def _collect(pieces: Generator[str, None, Any], parts: list[str]) -> Generator[str, None, Any]:
    """Pass ``pieces`` through, keeping them in ``parts``; returns what ``pieces`` returns. Closed early,
    it closes ``pieces`` (which stops the worker's job)."""
    try:
        while True:
            try:
                piece = next(pieces)
            except StopIteration as done:
                return done.value
            parts.append(piece)
            yield piece
    finally:
        pieces.close()
