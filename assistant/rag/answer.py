"""Answer a learner's question with numbered citations to the roadmap: one pipeline for ask and ask_stream.

The steps, in order (``ask`` and ``ask_stream`` share every one; streaming only shows the first draft as it
arrives, and the checked answer replaces it at the end):

1. the question is validated and stripped of instructions aimed at the assistant (``guard``);
2. a follow-up is made standalone (``followup``), and hybrid retrieval finds the chunks (``retrieval``);
3. the chunks are cut down to the sentences that bear on the question, under a token budget (``evidence``);
4. the model answers; the draft loses images, foreign links and HTML (``sanitize``), and every sentence is
   checked against the evidence (``support``), for figures no source states (``figures``) and for code names
   no source gives (``names``);
5. a draft with invented figures or with no supported content is retried once; what is still unsupported is
   removed (and counted), bare sentences get the number of the source that supports them, and an answer left
   with nothing supported is declined with what the sources do say.

An answer the model stopped at ``max_tokens`` (``finish_reason == "length"``) is flagged ``cut``: its unfinished
last sentence is left out before the checks (``unfinished`` says what), so half a sentence cannot sink the
rest, and ``continue_stream`` asks the model for the rest of it (``tutor chat``: ``more``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, computed_field

from assistant.errors import TutorError
from assistant.llm.base import ChatModel, Completion, Message, Usage
from assistant.rag.citations import cited_numbers, with_marker
from assistant.rag.evidence import GAP, count_tokens, select_evidence
from assistant.rag.figures import stated_figures, unsupported_figures
from assistant.rag.followup import standalone_question
from assistant.rag.guard import guard_question, guard_source
from assistant.rag.key_points import format_key_points, key_points, split_key_points
from assistant.rag.names import stated_names, unsupported_names
from assistant.rag.prompts import DECLINE_TEXT, DECLINE_WITH_EVIDENCE, answer_messages, retry_messages
from assistant.rag.retrieval import RetrievalTrace, RetrievedChunk, Retriever
from assistant.rag.sanitize import linkable, sanitize_answer
from assistant.rag.support import SentenceSupport, SupportParams, check_support
from assistant.text import CITE, clean_sentence, content_words, sentence_spans, split_sentences

MAX_QUESTION_CHARS = 4000
ONLY_INSTRUCTIONS_TEXT = (
    "Your message only asked me to change my rules or role, which I keep. Ask me a question about the roadmap instead."
)
# A question that asks for a figure: an answer without one does not answer it.
_ASKS_FIGURE = re.compile(
    r"\bhow (?:much|many|long|big|large|old)\b|\bwhat (?:score|percentage|percent|salary|price|cost|number|year)\b"
    r"|\bwhich year\b|\bout of \d+",
    re.IGNORECASE,
)
STRONG_EVIDENCE = 0.5  # cosine of the best chunk above which a model's decline is retried once
_DECLINE = re.compile(
    r"(?:does not|doesn't|do not|don't) (?:cover|mention|say|address|discuss|include|provide|contain)"
    r"|(?:no|not any) (?:information|mention)|not covered|cannot answer|can't answer",
    re.IGNORECASE,
)
# "The roadmap does not cover it." after an answer (a small model's habit, seen on the 0.5B model): it says
# nothing and contradicts the sentences before it.
BARE_DECLINE = re.compile(
    r"^(?:the |these )?(?:roadmap|sources?|documents?|study material|context)\s+(?:does not|doesn't|do not|don't)"
    r" (?:cover|mention|say|address|discuss) (?:it|this|that|them|this topic|anything else)\s*\.?$",
    re.IGNORECASE,
)
# A cut answer's last sentence is finished when it ends like one (closing quotes, brackets, markers after).
_FINISHED = re.compile(r"(?:[.!?:]|```)[\"')\]*_`]*(?:\s*\[\d{1,2}\])*$")
CONTINUE_REQUEST = (
    "Your answer above stopped at the length limit. Continue it from where it stops: write only the rest, "
    "starting with a new sentence, and do not repeat what you already wrote. Use the sources above only; end "
    "each sentence with its source number."
)
NOTHING_MORE_TEXT = "The sources support nothing more on this question than the answer above."


class Citation(BaseModel):
    n: int
    source: str
    doc_id: str
    title: str
    heading: str
    heading_path: str
    score: float
    url: str = ""  # a fetched page's address (documents on disk have none)
    passage: str = Field(default="", description="the source chunk's text, to show beside the answer")
    supporting: list[str] = Field(default_factory=list, description="its sentences that support the answer")

    @classmethod
    def of(cls, n: int, chunk: RetrievedChunk, supporting: list[str] | None = None) -> Citation:
        return cls(
            n=n,
            source=chunk.source,
            doc_id=chunk.doc_id,
            title=chunk.title,
            heading=chunk.heading,
            heading_path=chunk.heading_path,
            score=round(chunk.score, 4),
            url=chunk.url,
            passage=chunk.text,
            supporting=supporting or [],
        )


def supporting_sentences(support: list[SentenceSupport], n: int) -> list[str]:
    """The sentences of source ``n`` that the check matched to supported answer sentences, each once."""
    found = [s.evidence for s in support if s.checked and s.supported and s.source == n and s.evidence]
    return list(dict.fromkeys(found))


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
    attributed: bool = False  # some [n] markers were added from the support check
    ignored_instructions: list[str] = Field(
        default_factory=list, description="override attempts found in the question or sources and not followed"
    )
    calls: int = Field(default=1, description="model calls made for this answer (rewrite and retry included)")
    search_query: str = Field(default="", description="what retrieval searched for (a follow-up made standalone)")
    unsupported_figures: list[str] = Field(
        default_factory=list, description="figures no source states (their sentences are left out)"
    )
    unsupported_names: list[str] = Field(
        default_factory=list, description="code names (APIs, modules) no source gives (their sentences are left out)"
    )
    unsupported: list[str] = Field(
        default_factory=list, description="sentences left out because no source sentence supports them"
    )
    left_out: int = Field(default=0, description="sentences left out: unsupported, or stating unsupported figures")
    removed_links: list[str] = Field(
        default_factory=list, description="images, links and HTML taken out of the answer (no source holds them)"
    )
    draft: str = Field(default="", description="the model's text before the checks (what a stream showed)")
    evidence_tokens: int = 0
    retrieval: RetrievalTrace | None = Field(default=None, description="vector, lexical and fused rankings")
    cut: bool = Field(
        default=False, description="the model stopped at the token limit (finish_reason length): the answer is partial"
    )
    max_tokens: int = Field(default=0, description="the token limit the model was given (MAX_ANSWER_TOKENS)")
    unfinished: str = Field(default="", description="a cut answer's unfinished last sentence, left out")
    continued_from: str = Field(
        default="", description="the answer so far that this one continues (`more` after a cut answer)"
    )
    key_points: list[str] = Field(
        default_factory=list,
        description="evidence sentences added after the answer, word for word with their source numbers",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def revised(self) -> bool:
        """Whether the checked answer differs from the draft the model wrote (a stream must replace it)."""
        return self.text.strip() != self.draft.strip()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def usage_estimated(self) -> bool:
        """Whether the token counts (and so the cost) are our own count, not the server's: a server that sends
        no usage (llama.cpp ignores ``stream_options.include_usage``) is counted with a tokenizer that may not
        be its model's. The embedded model counts with its own tokenizer, so its counts are exact."""
        return self.calls > 0 and self.usage.source == "counted" and self.provider != "local"

    @property
    def can_continue(self) -> bool:
        """Whether asking for the rest makes sense: the model was cut off in an answer (not a decline)."""
        return self.cut and not self.declined


class AnswerStream:
    """Text pieces as they arrive; ``answer`` is complete (and checked) once iteration ends."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces


@dataclass
class Prepared:
    asked: str  # the question as the learner wrote it
    question: str  # as asked, instructions to the assistant removed
    search_query: str
    chunks: list[RetrievedChunk]  # the evidence the model is shown, numbered from 1
    messages: list[Message]
    trace: RetrievalTrace | None = None
    completions: list[Completion] = field(default_factory=list)  # the follow-up rewrite, if one was made
    ignored: list[str] = field(default_factory=list)  # instructions cut from the sources
    continued: str = ""  # the answer so far, when this call asks for the rest of a cut answer


@dataclass
class Draft:
    text: str
    support: list[SentenceSupport]
    figures: list[str]
    removed_links: list[str]
    cut: bool = False  # the model stopped at the token limit
    unfinished: str = ""  # the cut text's unfinished last sentence, left out before the checks
    names: list[str] = field(default_factory=list)  # code names no source gives

    @property
    def has_content(self) -> bool:
        return any(s.checked and s.supported for s in self.support)


class AnswerService:
    def __init__(
        self,
        retriever: Retriever,
        llm: ChatModel,
        *,
        min_score: float = 0.25,
        max_tokens: int = 512,
        evidence_tokens: int = 250,
        key_points: int = 3,
        support: SupportParams | None = None,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.min_score = min_score
        self.max_tokens = max_tokens
        self.evidence_tokens = evidence_tokens
        self.key_points = key_points
        self.support = support or SupportParams()

    # -- before the model ------------------------------------------------------------------------
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

    def search_query(self, question: str, history: list[Message] | None = None) -> str:
        """What retrieval searches for: the question, made standalone when it is a follow-up."""
        return standalone_question(question, history, self.llm)[0]

    def _prepare(self, question: str, history: list[Message] | None, search_query: str | None = None) -> Prepared:
        asked = question
        question = guard_question(self._validate(question)).text
        if not question:  # nothing but instructions to the assistant
            return Prepared(asked=asked.strip(), question="", search_query="", chunks=[], messages=[])
        if search_query is not None:  # given (evals replay a recorded rewrite): no model call
            query, rewrite = search_query, None
        else:
            query, rewrite = standalone_question(question, history, self.llm)
        found, trace = self.retriever.search(query)
        # Sources lose planted instructions and role lines before anything reads them (evidence included).
        guarded = [(c, guard_source(c.text)) for c in found if self._relevant(c)]
        relevant = [c.model_copy(update={"text": g.text}) for c, g in guarded]
        ignored = [r for _, g in guarded for r in g.removed]
        # The model is asked the standalone form (the same as the question unless it was a follow-up).
        evidence = select_evidence(query, relevant, self.retriever.embedder, self.evidence_tokens)
        messages = answer_messages(query, evidence) if evidence else []
        completions = [rewrite] if rewrite else []
        return Prepared(asked.strip(), question, query, evidence, messages, trace, completions, ignored)

    def _relevant(self, chunk: RetrievedChunk) -> bool:
        """Close enough to the question by meaning, or a top keyword match only a little less close (an exact
        term such as an exam code often sits in a chunk whose overall meaning is further away)."""
        if chunk.score >= self.min_score:
            return True
        return chunk.lexical_rank is not None and chunk.lexical_rank <= 2 and chunk.score >= self.min_score - 0.15

    def prepare(
        self, question: str, history: list[Message] | None = None, search_query: str | None = None
    ) -> tuple[list[RetrievedChunk], list[Message]]:
        """The evidence and the exact messages the model would see (evals fingerprint these).

        ``search_query`` stands in for the follow-up rewrite (evals pass the one an answer recorded)."""
        prepared = self._prepare(question, history, search_query)
        return prepared.chunks, prepared.messages

    def _prepare_continuation(self, previous: Answer) -> Prepared:
        """The first request again (same search, same numbered sources, no rewrite call), followed by the answer
        so far and a request for the rest."""
        prepared = self._prepare(previous.question, None, search_query=previous.search_query)
        body = split_key_points(previous.text)[0] if previous.key_points else previous.text  # points are quotes
        so_far = " ".join(t for t in (previous.continued_from.strip(), body.strip()) if t)
        prepared.continued = so_far
        if prepared.messages:
            prepared.messages = [
                *prepared.messages,
                Message(role="assistant", content=so_far),
                Message(role="user", content=CONTINUE_REQUEST),
            ]
        return prepared

    # -- after the model -------------------------------------------------------------------------
    def _cut(self, completion: Completion) -> bool:
        """Whether the model stopped at the token limit: its finish reason says "length"; a provider that gives
        no finish reason but reports spending the whole limit stopped there too."""
        finish = completion.extra.get("finish_reason")
        if isinstance(finish, str) and finish:
            return finish == "length"
        usage = completion.usage
        return usage.source == "provider" and usage.completion_tokens >= self.max_tokens

    def _check(self, prepared: Prepared, raw: str, cut: bool = False) -> Draft:
        asked = prepared.search_query or prepared.question
        sources = [asked, *(f"{c.label}\n{c.text}" for c in prepared.chunks)]
        unfinished = ""
        if cut:  # half a sentence (or half a figure) must not count against the rest
            raw, unfinished = without_unfinished(raw)
        # A URL a source shows only as an image or a link definition does not make it a link worth repeating.
        clean = sanitize_answer(raw.strip(), [linkable(c.text) for c in prepared.chunks])
        support = check_support(
            clean.text, prepared.chunks, self.retriever.embedder, question=asked, params=self.support
        )
        figures = unsupported_figures(clean.text, sources)
        unfinished = clean_sentence(unfinished)
        names = unsupported_names(clean.text, sources)
        return Draft(clean.text, support, figures, clean.removed, cut=cut, unfinished=unfinished, names=names)

    def _final_text(
        self, draft: Draft, sources: int, already: set[str] | None = None
    ) -> tuple[str, list[str], int, bool]:
        """The draft without unsupported sentences, invented code, figures or names, repeated sentences or
        markers for sources that do not exist; bare sentences cited.

        Returns (text, what was left out as written, how many sentences or code blocks, whether markers
        were added). ``already``: sentences already given (the answer a continuation continues), not repeated.
        """
        text = draft.text
        figures, names = set(draft.figures), set(draft.names)
        unsupported: list[str] = []
        dropped_blocks: set[int] = set()
        seen: set[str] = set(already or ())
        left_out = 0
        attributed = False
        pieces: list[str] = []
        cursor = 0
        for s in draft.support:
            pieces.append(text[cursor : s.start])
            cursor = s.end
            sentence = s.sentence
            if s.block is not None:
                if s.supported:
                    pieces.append(sentence)
                elif s.block not in dropped_blocks:
                    dropped_blocks.add(s.block)
                    left_out += 1
                    unsupported.append("a code block the sources do not support")
                continue
            invented = bool(figures & stated_figures(sentence)) or bool(names & stated_names(sentence))
            if (s.checked and not s.supported) or invented:
                left_out += 1
                if not invented:
                    unsupported.append(clean_sentence(sentence))
                continue
            said = clean_sentence(sentence).lower()
            if draft.has_content and BARE_DECLINE.match(said.strip()):
                continue
            if s.checked and said in seen:  # a small model sometimes writes its answer twice
                continue
            seen.add(said)
            sentence = _valid_markers(sentence, sources)
            if s.checked and s.source is not None and not CITE.search(sentence):
                sentence, attributed = with_marker(sentence, s.source), True
            pieces.append(sentence)
        pieces.append(text[cursor:])
        return _tidy(_valid_markers("".join(pieces), sources)), unsupported, left_out, attributed

    def _decline_with_evidence(self, prepared: Prepared) -> str:
        """An honest decline that still shows the closest thing the sources say (up to two sentences)."""
        best = prepared.chunks[0].text.replace(GAP, "\n")
        said = [clean_sentence(best[a:b]) for a, b in sentence_spans(best)]
        said = [s for s in said if len(content_words(s)) >= 3][:2]
        return f"{DECLINE_WITH_EVIDENCE} {' '.join(said)} [1]" if said else DECLINE_TEXT

    def _strong(self, prepared: Prepared) -> bool:
        return max(c.score for c in prepared.chunks) >= STRONG_EVIDENCE

    def _answer(
        self,
        prepared: Prepared,
        draft: Draft,
        raw: str,
        completions: list[Completion],
        started: float,
    ) -> Answer:
        chunks = prepared.chunks
        usage = sum((c.usage for c in completions[1:]), completions[0].usage)
        last = completions[-1]
        declined = self._declines(draft)
        said = {clean_sentence(s).lower() for s in split_sentences(prepared.continued)}
        text, unsupported, left_out, attributed = self._final_text(draft, len(prepared.chunks), said)
        if prepared.continued and (declined or not _has_words(text)):  # nothing (supported) to add
            text, declined = NOTHING_MORE_TEXT, True
        elif declined:  # the model's own decline: what the sources do say, when they are close to the question
            text = self._decline_with_evidence(prepared) if self._strong(prepared) else DECLINE_TEXT
        elif not prepared.continued and (not _has_words(text) or self._figure_unanswered(prepared, draft, text)):
            text, declined = self._decline_with_evidence(prepared), True
        # A cut answer gets them too: what the token limit left unsaid is often among them.
        points = [] if declined or prepared.continued else self._key_points(prepared, draft, text)
        if points:
            text = f"{text}\n\n{format_key_points(points)}"
        numbers = cited_numbers(text, len(chunks))
        return Answer(
            question=prepared.asked,
            text=text,
            draft=raw.strip(),
            attributed=attributed,
            citations=[Citation.of(n, chunks[n - 1], supporting_sentences(draft.support, n)) for n in numbers],
            retrieved=[Citation.of(i, c) for i, c in enumerate(chunks, start=1)],
            usage=usage,
            cost_usd=sum(c.cost_usd for c in completions),
            latency_s=time.perf_counter() - started,
            provider=last.provider,
            model=last.model,
            declined=declined,
            ignored_instructions=guard_question(prepared.asked).removed + prepared.ignored,
            calls=len(completions),
            search_query=prepared.search_query,
            unsupported_figures=draft.figures,
            unsupported_names=draft.names,
            unsupported=unsupported,
            left_out=left_out,
            removed_links=draft.removed_links,
            evidence_tokens=sum(count_tokens(c.text) for c in chunks),
            retrieval=prepared.trace,
            cut=draft.cut,
            max_tokens=self.max_tokens,
            unfinished=draft.unfinished,
            continued_from=prepared.continued,
            key_points=[f"{sentence} [{n}]" for n, sentence in points],
        )

    def _key_points(self, prepared: Prepared, draft: Draft, text: str) -> list[tuple[int, str]]:
        """The evidence sentences most on the question that the checked answer does not already say."""
        matched = [s.evidence for s in draft.support if s.checked and s.supported]
        asked = prepared.search_query or prepared.question
        embedder = self.retriever.embedder
        return key_points(asked, prepared.chunks, embedder, text, matched, limit=self.key_points)

    def _declined(self, question: str, prepared: Prepared, started: float) -> Answer:
        ignored = guard_question(question).removed
        only_instructions = bool(ignored) and not prepared.question
        extra = prepared.completions
        return Answer(
            question=question,
            text=ONLY_INSTRUCTIONS_TEXT if only_instructions else DECLINE_TEXT,
            ignored_instructions=ignored,
            citations=[],
            retrieved=[],
            usage=sum((c.usage for c in extra[1:]), extra[0].usage) if extra else Usage(source="counted"),
            cost_usd=sum(c.cost_usd for c in extra),
            latency_s=time.perf_counter() - started,
            provider=self.llm.provider,
            model=self.llm.model,
            declined=True,
            calls=len(extra),
            search_query=prepared.search_query,
            retrieval=prepared.trace,
            continued_from=prepared.continued,
        )

    # -- the pipeline ------------------------------------------------------------------------------
    def _run(
        self,
        question: str,
        history: list[Message] | None,
        streaming: bool,
        done: Callable[[Answer], None],
        previous: Answer | None = None,
    ) -> Iterator[str]:
        started = time.perf_counter()
        prepared = self._prepare(question, history) if previous is None else self._prepare_continuation(previous)
        if not prepared.messages:
            answer = self._declined(question.strip(), prepared, started)
            done(answer)
            yield answer.text
            return
        if streaming:
            stream = self.llm.stream(prepared.messages, max_tokens=self.max_tokens)
            yield from stream
            assert stream.completion is not None
            first = stream.completion
        else:
            first = self.llm.complete(prepared.messages, max_tokens=self.max_tokens)
        completions = [*prepared.completions, first]
        raw = first.text
        draft = self._check(prepared, raw, self._cut(first))
        if self._needs_retry(prepared, draft):
            # One retry: small models invent precise numbers, answer with citation markers and no facts, or
            # decline although the best source is close to the question.
            second = self.llm.complete(
                retry_messages(prepared.messages, draft.figures, declined=self._declines(draft)),
                max_tokens=self.max_tokens,
            )
            completions.append(second)
            retried = self._check(prepared, second.text, self._cut(second))
            if retried.has_content or not draft.has_content:
                draft = retried
        done(self._answer(prepared, draft, raw, completions, started))

    @staticmethod
    def _figure_unanswered(prepared: Prepared, draft: Draft, text: str) -> bool:
        """Asked for a figure, the model invented one, and what is left states none: not an answer."""
        return bool(_ASKS_FIGURE.search(prepared.question) and draft.figures and not stated_figures(text))

    @staticmethod
    def _declines(draft: Draft) -> bool:
        return bool(_DECLINE.search(draft.text)) and not draft.has_content

    def _needs_retry(self, prepared: Prepared, draft: Draft) -> bool:
        if draft.figures:
            return True
        if self._declines(draft):  # (a continuation that declines has nothing more to say)
            return not prepared.continued and self._strong(prepared) and not _ASKS_FIGURE.search(prepared.question)
        return not draft.has_content

    def ask(self, question: str, history: list[Message] | None = None) -> Answer:
        result: list[Answer] = []
        for _ in self._run(question, history, False, result.append):
            pass
        return result[0]

    def ask_stream(self, question: str, history: list[Message] | None = None) -> AnswerStream:
        handle = AnswerStream(iter(()))

        def done(answer: Answer) -> None:
            handle.answer = answer

        handle._pieces = self._run(question, history, True, done)
        return handle

    def continue_answer(self, previous: Answer) -> Answer:
        """The rest of a cut answer (``previous.cut``): the same sources, the answer so far, a request to go on.

        The result holds only the new part, checked like any answer; sentences the answer so far already
        said are not repeated. It may itself be cut (ask again)."""
        result: list[Answer] = []
        for _ in self._run(previous.question, None, False, result.append, previous):
            pass
        return result[0]

    def continue_stream(self, previous: Answer) -> AnswerStream:
        """``continue_answer``, streamed as ``ask_stream`` streams."""
        handle = AnswerStream(iter(()))

        def done(answer: Answer) -> None:
            handle.answer = answer

        handle._pieces = self._run(previous.question, None, True, done, previous)
        return handle


def without_unfinished(text: str) -> tuple[str, str]:
    """A cut text without its unfinished last sentence, and that sentence ("" when the text ends one, ends a
    line, or stops inside a code block, which is judged whole and closed by ``_tidy``)."""
    if not text.strip() or text.endswith("\n"):
        return text, ""
    spans = sentence_spans(text)
    start, end = spans[-1]
    last = text[start:end]
    if _FINISHED.search(last) or text[:start].count("```") % 2:
        return text, ""
    return text[:start].rstrip(), last


def _has_words(text: str) -> bool:
    """Whether a text says anything beyond citation markers and a frame of a few words."""
    return any(len(content_words(clean_sentence(text[a:b]))) >= 3 for a, b in sentence_spans(text))


def _valid_markers(text: str, sources: int) -> str:
    """``text`` without ``[n]`` markers that point past the numbered sources."""
    return CITE.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= sources else "", text)


# A heading the model opens and never fills (its sources list, say, which the app shows on its own).
_EMPTY_HEADING = re.compile(r"\s*[*_#]*\s*(?:sources?|references?|citations?)\s*[*_]*:?[*_]*\s*", re.IGNORECASE)


def _dangling_lead_in(line: str, after: list[str]) -> bool:
    """A line that opens a list ("you can take several steps: [1]") whose list is gone: nothing follows, or
    after a blank line comes something that is neither a list item nor code."""
    if not CITE.sub("", line).rstrip().endswith(":"):
        return False
    rest = [x for x in after if x.strip()]
    if not rest:
        return True
    opens = re.match(r"\s*(?:[-*+]|\d{1,2}[.)]|```)", rest[0])
    return not opens and bool(after) and not after[0].strip()


def _tidy(text: str) -> str:
    """Blank runs collapsed, lines left with only markers, a sources label ("Source: [1]"), list bullets or a
    lead-in whose list is gone dropped (code fences kept)."""
    lines = [
        line
        for line in text.splitlines()
        if (
            re.search(r"[A-Za-z0-9]", CITE.sub("", line))
            and not (CITE.search(line) and _EMPTY_HEADING.fullmatch(CITE.sub("", line)))
        )
        or not line.strip()
        or line.lstrip().startswith("```")
    ]
    lines = [line for line in lines if not re.fullmatch(r"\s*(?:[-*+]|\d{1,2}[.)])\s*", line)]
    lines = [line if line.strip() else "" for line in lines]
    lines = [line for i, line in enumerate(lines) if not _dangling_lead_in(line, lines[i + 1 :])]
    while lines and (not lines[-1].strip() or _EMPTY_HEADING.fullmatch(lines[-1])):  # "Sources:" with nothing after
        lines.pop()
    if sum(line.lstrip().startswith("```") for line in lines) % 2:  # a block cut off by the token limit
        lines.append("```")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
