"""Answer a learner's question with numbered citations to the roadmap."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from pydantic import BaseModel, Field

from assistant.errors import TutorError
from assistant.llm.base import ChatModel, Completion, Message, Usage
from assistant.rag.citations import CITE, attribute, cited_numbers
from assistant.rag.figures import unsupported_figures, without_figures
from assistant.rag.guard import guard_question, guard_source
from assistant.rag.prompts import DECLINE_TEXT, answer_messages, figures_retry_messages
from assistant.rag.retrieval import RetrievedChunk, Retriever

MAX_QUESTION_CHARS = 4000
ONLY_INSTRUCTIONS_TEXT = (
    "Your message only asked me to change my rules or role, which I keep. Ask me a question about the roadmap instead."
)


class Citation(BaseModel):
    n: int
    source: str
    doc_id: str
    title: str
    heading: str
    heading_path: str
    score: float

    @classmethod
    def of(cls, n: int, chunk: RetrievedChunk) -> Citation:
        return cls(
            n=n,
            source=chunk.source,
            doc_id=chunk.doc_id,
            title=chunk.title,
            heading=chunk.heading,
            heading_path=chunk.heading_path,
            score=round(chunk.score, 4),
        )


class Answer(BaseModel):
    question: str
    text: str
    citations: list[Citation] = Field(description="sources the answer cites, by number")
    retrieved: list[Citation] = Field(description="every source the model was shown")
    usage: Usage
    cost_usd: float
    latency_s: float
    provider: str
    model: str
    declined: bool = False
    attributed: bool = False  # some [n] markers were added by source attribution
    ignored_instructions: list[str] = Field(
        default_factory=list, description="override attempts found in the question or sources and not followed"
    )
    calls: int = Field(default=1, description="model calls made for this answer (2 after a figures retry)")
    unsupported_figures: list[str] = Field(
        default_factory=list,
        description="figures no source states: marked as unverified, or left out together with their sentences",
    )
    left_out: int = Field(default=0, description="sentences left out because they stated unsupported figures")


class AnswerStream:
    """Text pieces as they arrive; ``answer`` is complete once iteration ends."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces


class AnswerService:
    def __init__(self, retriever: Retriever, llm: ChatModel, *, min_score: float = 0.25, max_tokens: int = 512) -> None:
        self.retriever = retriever
        self.llm = llm
        self.min_score = min_score
        self.max_tokens = max_tokens

    def _validate(self, question: str) -> str:
        question = question.strip()
        if not question:
            raise TutorError("The question is empty.", "type a question about the roadmap.")
        if len(question) > MAX_QUESTION_CHARS:
            raise TutorError(
                f"The question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}.",
                "shorten it to the part you want answered.",
            )
        return question

    def _search_query(self, question: str, history: list[Message] | None) -> str:
        last_user = [m.content for m in (history or []) if m.role == "user"][-1:]
        return " ".join([*last_user, question])

    def prepare(
        self, question: str, history: list[Message] | None = None
    ) -> tuple[list[RetrievedChunk], list[Message]]:
        """Retrieve and build the exact messages the model would see (evals fingerprint these)."""
        question = guard_question(self._validate(question)).text
        if not question:  # nothing but instructions to the assistant
            return [], []
        chunks = self.retriever.retrieve(self._search_query(question, history))
        relevant = [c for c in chunks if c.score >= self.min_score]
        return relevant, answer_messages(question, relevant, history)

    @staticmethod
    def _ignored(question: str, chunks: list[RetrievedChunk]) -> list[str]:
        return guard_question(question).removed + [r for c in chunks for r in guard_source(c.text).removed]

    @staticmethod
    def _invented(question: str, chunks: list[RetrievedChunk], text: str) -> list[str]:
        return unsupported_figures(text, [question, *(f"{c.label}\n{c.text}" for c in chunks)])

    def _finish(self, question: str, chunks: list[RetrievedChunk], completion: Completion) -> Answer:
        raw = completion.text.strip()
        text = attribute(raw, [c.text for c in chunks])
        numbers = cited_numbers(text, len(chunks))
        return Answer(
            question=question,
            text=text,
            attributed=text != raw,
            citations=[Citation.of(n, chunks[n - 1]) for n in numbers],
            retrieved=[Citation.of(i, c) for i, c in enumerate(chunks, start=1)],
            usage=completion.usage,
            cost_usd=completion.cost_usd,
            latency_s=completion.latency_s,
            provider=completion.provider,
            model=completion.model,
            ignored_instructions=self._ignored(question, chunks),
            unsupported_figures=self._invented(question, chunks, raw),
        )

    def _declined(self, question: str, started: float) -> Answer:
        ignored = guard_question(question).removed
        only_instructions = bool(ignored) and not guard_question(question).text
        return Answer(
            question=question,
            text=ONLY_INSTRUCTIONS_TEXT if only_instructions else DECLINE_TEXT,
            ignored_instructions=ignored,
            citations=[],
            retrieved=[],
            usage=Usage(source="counted"),
            cost_usd=0.0,
            latency_s=time.perf_counter() - started,
            provider=self.llm.provider,
            model=self.llm.model,
            declined=True,
            calls=0,
        )

    @staticmethod
    def _leave_out_figures(answer: Answer, chunks: list[RetrievedChunk]) -> Answer:
        """The retry still states figures no source gives: leave out the sentences stating them, and
        decline when no cited sentence with words is left (an uncited remainder is no answer either)."""
        text, left_out = without_figures(answer.text, answer.unsupported_figures)
        if not left_out:  # the figures sit in code, which is kept as written: they stay marked unverified
            return answer
        numbers = cited_numbers(text, len(chunks))
        if not numbers or not re.search(r"[A-Za-z]{2,}", CITE.sub("", text)):
            text, numbers = DECLINE_TEXT, []
        return answer.model_copy(
            update={
                "text": text,
                "citations": [Citation.of(n, chunks[n - 1]) for n in numbers],
                "declined": not numbers,
                "left_out": left_out,
            }
        )

    def ask(self, question: str, history: list[Message] | None = None) -> Answer:
        started = time.perf_counter()
        chunks, messages = self.prepare(question, history)
        if not chunks:
            return self._declined(question.strip(), started)
        first = self.llm.complete(messages, max_tokens=self.max_tokens)
        answer = self._finish(question.strip(), chunks, first)
        if answer.unsupported_figures:  # one retry: small models invent precise numbers the roadmap lacks
            retry = figures_retry_messages(messages, answer.unsupported_figures)
            second = self.llm.complete(retry, max_tokens=self.max_tokens)
            second.usage, second.cost_usd = first.usage + second.usage, first.cost_usd + second.cost_usd
            answer = self._finish(question.strip(), chunks, second)
            answer.calls = 2
            if answer.unsupported_figures:
                answer = self._leave_out_figures(answer, chunks)
        answer.latency_s = time.perf_counter() - started
        return answer

    def ask_stream(self, question: str, history: list[Message] | None = None) -> AnswerStream:
        started = time.perf_counter()
        chunks, messages = self.prepare(question, history)

        def pieces() -> Iterator[str]:
            if not chunks:
                handle.answer = self._declined(question.strip(), started)
                yield handle.answer.text
                return
            stream = self.llm.stream(messages, max_tokens=self.max_tokens)
            yield from stream
            assert stream.completion is not None
            handle.answer = self._finish(question.strip(), chunks, stream.completion)
            handle.answer.latency_s = time.perf_counter() - started

        handle = AnswerStream(pieces())
        return handle
