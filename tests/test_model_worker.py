"""One worker per llama.cpp model: concurrent callers queue, never enter the model together, see their place
in line, get only their own errors, and stop their job by leaving. The last test drives the real model."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.llm.worker import ModelWorker, on_queue


class Reentry:
    """A stand-in model that records any overlap of two callers inside it (what crashed llama.cpp)."""

    def __init__(self, step_s: float = 0.01) -> None:
        self.inside = 0
        self.overlaps = 0
        self.pieces_made = 0
        self.threads: set[str] = set()
        self.step_s = step_s
        self._guard = threading.Lock()

    def enter(self) -> None:
        with self._guard:
            self.inside += 1
            self.overlaps += self.inside > 1
            self.threads.add(threading.current_thread().name)

    def leave(self) -> None:
        with self._guard:
            self.inside -= 1

    def answer(self, text: str) -> str:
        self.enter()
        try:
            time.sleep(self.step_s)
            if text == "boom":
                raise ValueError("a bad request")
            return text.upper()
        finally:
            self.leave()

    def pieces(self, text: str, n: int = 5) -> Generator[str, None, int]:
        self.enter()
        try:
            for i in range(n):
                time.sleep(self.step_s)
                self.pieces_made += 1
                yield f"{text}{i} "
            return n
        finally:
            self.leave()


def test_five_concurrent_callers_never_overlap_and_each_gets_its_own_result():
    model = Reentry()
    worker = ModelWorker(model, name="test-worker")

    def one(i: int) -> tuple[str, str, int | None]:
        done = worker.call(lambda m: m.answer(f"q{i}"))
        stream = worker.stream(lambda m: m.pieces(f"s{i}-"))
        text = ""
        while True:
            try:
                text += next(stream)
            except StopIteration as end:
                return done, text, end.value

    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(one, range(5)))
    assert model.overlaps == 0 and model.threads == {"test-worker"}
    for i, (done, text, total) in enumerate(results):
        assert done == f"Q{i}" and text == "".join(f"s{i}-{k} " for k in range(5)) and total == 5


def test_an_error_reaches_only_the_caller_whose_job_failed():
    worker = ModelWorker(Reentry())
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(worker.call, lambda m, t=t: m.answer(t)) for t in ("a", "boom", "c")]
    assert futures[0].result() == "A" and futures[2].result() == "C"
    with pytest.raises(ValueError, match="a bad request"):
        futures[1].result()
    assert worker.call(lambda m: m.answer("after")) == "AFTER"  # the worker goes on


def test_a_waiting_caller_sees_its_place_in_line_until_its_job_runs():
    model = Reentry(step_s=0.2)
    worker = ModelWorker(model)
    gate = threading.Event()
    blockers = [threading.Thread(target=worker.call, args=(lambda m: gate.wait(5) and m.answer("x"),))]
    blockers += [threading.Thread(target=worker.call, args=(lambda m: m.answer("y"),))]
    for t in blockers:
        t.start()
        time.sleep(0.05)
    seen: list[int] = []
    threading.Timer(0.6, gate.set).start()
    with on_queue(seen.append):
        assert worker.call(lambda m: m.answer("mine")) == "MINE"
    for t in blockers:
        t.join()
    assert seen[0] == 2 and seen[-1] == 0 and seen == sorted(seen, reverse=True)


def test_leaving_a_stream_stops_its_job_and_a_queued_job_of_a_gone_caller_is_skipped():
    model = Reentry(step_s=0.05)
    worker = ModelWorker(model)
    stream = worker.stream(lambda m: m.pieces("a", n=50))
    assert next(stream) == "a0 "
    stream.close()  # the page was closed, or the learner pressed stop
    assert worker.call(lambda m: m.pieces_made) < 10  # the worker stopped at its next piece


class Stopped(Exception):
    """What Streamlit raises in a page's thread when the learner reruns or leaves it."""


def test_a_caller_stopped_while_waiting_leaves_the_queue_and_its_job_never_runs():
    worker = ModelWorker(Reentry())
    gate = threading.Event()
    busy = threading.Thread(target=worker.call, args=(lambda m: gate.wait(5),))
    busy.start()
    time.sleep(0.05)
    ran: list[str] = []

    def stop_when_waiting(ahead: int) -> None:
        if ahead:
            raise Stopped

    with on_queue(stop_when_waiting), pytest.raises(Stopped):
        worker.call(lambda m: ran.append("mine"))
    gate.set()
    busy.join()
    assert worker.call(lambda m: "next") == "next" and ran == [] and worker.waiting == 0


def test_concurrent_asks_on_the_real_model_do_not_crash_and_all_get_text(local_model_path):
    """Five threads streaming, completing and counting tokens on the one embedded model at once: before the
    worker this aborted the process (GGML_ASSERT in ggml-cpu/ops.cpp)."""
    from assistant.llm.base import Message
    from assistant.llm.local import LocalChatModel

    models = [
        LocalChatModel(local_model_path, "qwen2.5-coder-1.5b", n_ctx=1024, default_max_tokens=8) for _ in range(2)
    ]
    question = [Message(role="user", content="Name one loss function for classification.")]

    def one(i: int) -> str:
        llm = models[i % 2]  # two sessions' models share the one loaded model and its worker
        assert llm.count_tokens("cross-entropy loss") > 0
        if i % 2:
            return llm.complete(question, max_tokens=8).text
        handle = llm.stream(question, max_tokens=8)
        text = handle.text()
        assert handle.completion is not None and handle.completion.usage.prompt_tokens > 0
        return text

    with ThreadPoolExecutor(5) as pool:
        texts = list(pool.map(one, range(5)))
    assert all(t.strip() for t in texts)
