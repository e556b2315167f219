"""Every answer sentence checked against the sources it was written from.

Each sentence of an answer is matched to its best supporting source sentence, or pair of source sentences
(from one chunk or two): MiniLM cosine similarity, plus the share of the sentence's content words that
source contains, plus a smaller weight for the share found anywhere in the evidence. A sentence scoring
under the threshold is unsupported, and so is one stating a number no source or the question states.
A code block is judged as a whole, by the share of its identifiers the sources contain (a small model
invents plausible code). Sentences too short to judge (under two content words, such as "In short:")
are not checked.

Contradictions that reuse the source's words ("bagging" and "boosting" swapped) mostly pass: this check
catches invented content, not every wrong one. The weights and threshold are calibrated on the labelled
pairs in ``tests/fixtures/support_pairs.yaml`` (see ``tests/test_support.py``).
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import TYPE_CHECKING

from pydantic import BaseModel

from assistant.rag.evidence import cosine
from assistant.rag.retrieval import RetrievedChunk
from assistant.text import clean_sentence, content_words, negated, numbers, sentence_spans

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

# Words that frame a claim ("the roadmap recommends ...") rather than state it: not counted for coverage.
FRAME = frozenset(
    content_words(
        "roadmap roadmaps source sources recommend recommends suggest suggests say says mention mentions state "
        "states according note notes explain explains describe describes learner learners important key"
    )
)
MIN_WORDS = 2
_CALL_ARGUMENT = re.compile(r"(?<=\w)\(\s*\d[\d.,\s]*\)")
MAX_SENTENCES_PER_CHUNK = 12
MAX_SENTENCES = 30  # pairs grow with the square: evidence under the token budget stays well below
_CODE_BLOCK = re.compile(r"^[ \t]*```.*?(?:^[ \t]*```[^\n]*$|\Z)", re.DOTALL | re.MULTILINE)


class SupportParams(BaseModel):
    w_cov: float = 0.9  # share of the sentence's content words in the best source sentence (or pair)
    w_union: float = 0.3  # share of them anywhere in the evidence
    neg_penalty: float = 0.0  # one side negated, the other not (no gain on the labelled pairs: off)
    threshold: float = 1.15
    code_coverage: float = 0.6  # share of a code block's identifiers the sources must contain


class SentenceSupport(BaseModel):
    start: int
    end: int
    sentence: str  # as written in the answer, markers included
    checked: bool  # False: too short to judge, kept as it is
    block: int | None = None  # the code block the line belongs to (judged as a whole)
    score: float = 0.0
    source: int | None = None  # number of the chunk holding the best support (1-based)
    evidence: str = ""
    supported: bool = True


def _figures(text: str) -> set[str]:
    """The numbers a sentence states, leaving out call arguments in code ("alert(1)", "range(10)")."""
    return numbers(_CALL_ARGUMENT.sub("(", text))


def _words(text: str) -> set[str]:
    return set(content_words(text)) - FRAME


def _source_units(chunks: list[RetrievedChunk]) -> list[tuple[int, str]]:
    """(chunk number, text) for every source sentence and every pair of them, across chunks too: an answer
    sentence often joins two facts ("serve it with FastAPI and package it with Docker")."""
    sentences: list[tuple[int, str]] = []
    for n, chunk in enumerate(chunks, start=1):
        parts = [clean_sentence(chunk.text[a:b]) for a, b in sentence_spans(chunk.text)]
        sentences += [(n, p) for p in parts if p][:MAX_SENTENCES_PER_CHUNK]
    sentences = sentences[:MAX_SENTENCES]
    return sentences + [(n, f"{a} {b}") for (n, a), (_, b) in combinations(sentences, 2)]


def support_score(
    sentence_vec: list[float],
    words: set[str],
    neg: bool,
    unit_vec: list[float],
    unit: str,
    extra_words: set[str],
    params: SupportParams,
) -> float:
    coverage = len(words & (_words(unit) | extra_words)) / len(words) if words else 0.0
    penalty = params.neg_penalty if negated(unit) != neg else 0.0
    return cosine(sentence_vec, unit_vec) + params.w_cov * coverage - penalty


def _judge_code(
    answer: str,
    code: list[tuple[int, int]],
    verdicts: list[SentenceSupport],
    chunks: list[RetrievedChunk],
    question: str,
    params: SupportParams,
) -> None:
    """A code block is judged whole: supported when most of its identifiers appear in the sources."""
    vocab = set().union(*(content_words(c.text) for c in chunks)) | set(content_words(question))
    for i, (a, b) in enumerate(code):
        words = set(content_words(answer[a:b]))
        ok = not words or len(words & vocab) / len(words) >= params.code_coverage
        for v in verdicts:
            if v.block == i:
                v.checked, v.supported = True, ok


def check_support(
    answer: str,
    chunks: list[RetrievedChunk],
    embedder: BaseEmbedding,
    *,
    question: str = "",
    params: SupportParams | None = None,
) -> list[SentenceSupport]:
    """One verdict per sentence of ``answer``, in order."""
    params = params or SupportParams()
    spans = sentence_spans(answer)
    code = [m.span() for m in _CODE_BLOCK.finditer(answer)]
    out = [
        SentenceSupport(
            start=a,
            end=b,
            sentence=answer[a:b],
            checked=False,
            block=next((i for i, (x, y) in enumerate(code) if x <= a < y), None),
        )
        for a, b in spans
    ]
    _judge_code(answer, code, out, chunks, question, params)
    todo = [s for s in out if s.block is None and len(_words(clean_sentence(s.sentence))) >= MIN_WORDS]
    units = _source_units(chunks)
    if not todo:
        return out
    if not units:
        for s in todo:
            s.checked, s.supported = True, False
        return out
    vectors = embedder.get_text_embedding_batch([clean_sentence(s.sentence) for s in todo] + [u for _, u in units])
    sent_vecs, unit_vecs = vectors[: len(todo)], vectors[len(todo) :]
    q_words = _words(question)
    all_words = set().union(*(_words(c.text) for c in chunks)) | q_words
    stated = set().union(*(numbers(c.text) for c in chunks)) | numbers(question)
    for s, vec in zip(todo, sent_vecs, strict=True):
        clean = clean_sentence(s.sentence)
        words, neg = _words(clean), negated(clean)
        union = params.w_union * len(words & all_words) / len(words)
        best, best_i = -9.0, 0
        for i, ((_, unit), uvec) in enumerate(zip(units, unit_vecs, strict=True)):
            score = support_score(vec, words, neg, uvec, unit, q_words, params)
            if score > best:
                best, best_i = score, i
        s.checked = True
        s.score = round(best + union, 4)
        s.source, s.evidence = units[best_i]
        s.supported = s.score >= params.threshold and _figures(clean) <= stated
    return out
