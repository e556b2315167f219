"""One thread per loaded llama.cpp model: every use of it (generation, state) is a job in one queue.

A llama.cpp context is not thread-safe: two threads inside it abort the whole process (seen as
``GGML_ASSERT(i1 >= 0 && i1 < ne1)`` when two app sessions asked at once). So callers never touch the
model; they submit a job and wait for its result, or for its pieces when it streams. Jobs run one at a
time in arrival order; an error in a job goes to its caller only; a job whose caller has gone (a
closed stream, a cancelled page) is skipped, or stopped at its next piece.

A caller that wants to show its place in line wraps the call in :func:`on_queue`: the callback gets
the number of jobs ahead whenever it changes (0 once its own job runs), from the waiting thread, so
a page can update itself and a Streamlit stop request raised there cancels the job.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
QueueCallback = Callable[[int], None]
POLL_S = 0.25

_observer: contextvars.ContextVar[QueueCallback | None] = contextvars.ContextVar("queue_observer", default=None)


@contextmanager
def on_queue(callback: QueueCallback) -> Iterator[None]:
    """Within this block, waits for a model worker report the jobs ahead to ``callback``."""
    token = _observer.set(callback)
    try:
        yield
    finally:
        _observer.reset(token)


@dataclass
class _End:
    value: Any = None


@dataclass
class _Failed:
    error: BaseException


@dataclass(eq=False)
class _Job:
    fn: Callable[[Any], Any]
    streams: bool
    out: queue.Queue[Any] = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)


class ModelWorker(Generic[R]):
    """The one thread that uses ``resource`` (a loaded model); jobs run in arrival order."""

    def __init__(self, resource: R, name: str = "model-worker") -> None:
        self._resource = resource
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._open: list[_Job] = []  # queued or running, in arrival order
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    # -- the worker thread ----------------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if not job.cancelled.is_set():
                    self._run(job)
            finally:
                with self._lock:
                    self._open.remove(job)

    def _run(self, job: _Job) -> None:
        try:
            if not job.streams:
                job.out.put(_End(job.fn(self._resource)))
                return
            pieces: Generator[str, None, Any] = job.fn(self._resource)
            while not job.cancelled.is_set():
                try:
                    job.out.put(next(pieces))
                except StopIteration as done:
                    job.out.put(_End(done.value))
                    return
            pieces.close()  # the caller has gone: stop generating
            job.out.put(_End())
        except BaseException as exc:  # the caller gets it; the worker goes on with the next job
            job.out.put(_Failed(exc))

    # -- callers --------------------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Jobs queued or running now."""
        with self._lock:
            return len(self._open)

    def _ahead(self, job: _Job) -> int:
        with self._lock:
            return self._open.index(job) if job in self._open else 0

    def _submit(self, fn: Callable[[Any], Any], streams: bool) -> _Job:
        job = _Job(fn, streams)
        with self._lock:
            self._open.append(job)
        self._jobs.put(job)
        return job

    def _next(self, job: _Job, reported: list[int]) -> Any:
        """The job's next item, reporting the jobs ahead while it waits."""
        observer = _observer.get()
        while True:
            if observer is not None:
                ahead = self._ahead(job)
                if not reported or reported[-1] != ahead:
                    reported.append(ahead)
                    observer(ahead)
            try:
                item = job.out.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if observer is not None and reported and reported[-1] != 0:
                reported.append(0)  # its own job has run: no one is ahead any more
                observer(0)
            return item

    def call(self, fn: Callable[[R], T]) -> T:
        """Run ``fn(resource)`` on the worker thread and return its result (or raise its error)."""
        job = self._submit(fn, streams=False)
        try:
            item = self._next(job, [])
        finally:
            job.cancelled.set()  # harmless once done; skips the job if the caller gave up waiting
        if isinstance(item, _Failed):
            raise item.error
        return item.value  # type: ignore[no-any-return]

    def stream(self, fn: Callable[[R], Generator[str, None, T]]) -> Generator[str, None, T | None]:
        """The pieces ``fn(resource)`` yields, as the worker produces them; returns what it returns (read
        on the worker thread: token counts of the context, say), None if stopped. Closing this generator
        early stops the job at its next piece."""
        job = self._submit(fn, streams=True)
        reported: list[int] = []
        try:
            while True:
                item = self._next(job, reported)
                if isinstance(item, _Failed):
                    raise item.error
                if isinstance(item, _End):
                    return item.value  # type: ignore[no-any-return]
                yield item
        finally:
            job.cancelled.set()
