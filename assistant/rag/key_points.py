"""Key points: the evidence sentences that bear most on the question and the answer does not already say.

A 1.5B model states fewer than half of the facts a good answer needs, although the evidence it was shown
holds about two thirds of them. So after the checked answer come up to ``limit`` of the evidence sentences
themselves, word for word, each with its source number: best first by the score compact evidence uses
(MiniLM similarity to the question plus the share of the question's content words), only above a floor, and
never one the answer already states (the support check's matched sentence, or most of its words). They are
the roadmap's own text, so they cannot be wrong in the way a paraphrase can; they pass the same sanitiser as
the answer (no images, HTML or foreign links). Never points: code blocks, headings, fragments, sentences that
point back, table rows, the entries of resource lists (they describe a link) and of lists of mistakes (alone
they read as advice), a section's closing self-check ("You know it when ...") and, unless the question is
about studying, study plans and course, book and exam notes. Sentences of the best two sources need the floor,
those of lower-ranked ones (which drift off the question) a margin above it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.rag.evidence import GAP, LEXICAL_WEIGHT, POINTS_BACK, cosine, lexical_share
from assistant.rag.retrieval import RetrievedChunk
from assistant.rag.sanitize import linkable, sanitize_answer
from assistant.rag.sections import RESOURCE_LIST
from assistant.text import content_words, sentences

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

HEADER = "From the roadmap:"
MIN_WORDS = 5  # content words a point needs to say something on its own
SAID_SHARE = 0.7  # a sentence whose content words the answer mostly holds is already said
# Study plans, course, book and exam notes answer a question about studying, and only such a question.
_STUDY_SECTION = re.compile(r"\b(?:how to study|courses?|books?|certifications?|study plan)\b", re.IGNORECASE)
_ASKS_ABOUT_STUDYING = re.compile(
    r"\b(?:courses?|books?|certif\w*|exams?|stud(?:y|ying)|study plan|hours? a week|resources?|read)\b",
    re.IGNORECASE,
)
# "You know it when you can ..." closes a section as a self-check for the learner: no fact.
_SELF_CHECK = re.compile(r"^you know it when\b", re.IGNORECASE)
# A list of mistakes quoted item by item reads as advice ("Never doing a mock interview until the real one.").
_MISTAKES = re.compile(r"\b(?:mistakes?|pitfalls?|anti-?patterns?)\b", re.IGNORECASE)
# "With plain SGD this is equivalent to ...": a sentence leaning on the one before, a little way in.
_LEANS_BACK = re.compile(r"^(?:\S+\s+){0,5}(?:this|these|those|such(?! as))\b", re.IGNORECASE)
# "AWS aims it at developers ...", "His book ...": a pronoun whose noun is in another sentence.
_PRONOUN = re.compile(r"\b(?:it|they|them|he|she|his|her)\b", re.IGNORECASE)
TOP_CHUNKS = 2  # points come from the best two sources; a later one must clear ``floor + LATER_MARGIN``
LATER_MARGIN = 0.15
_LINK = re.compile(r"\]\(|https?://")


def _candidates(question: str, chunks: list[RetrievedChunk]) -> list[tuple[int, str]]:
    """(source number, sentence) for every evidence sentence that can stand as a point."""
    out: list[tuple[int, str]] = []
    # A question is about studying when it says so, or when retrieval's best source is a course or book note
    # ("Should I start with fast.ai or the ML Specialization?" names no course word).
    studying = bool(_ASKS_ABOUT_STUDYING.search(question) or _STUDY_SECTION.search(chunks[0].heading_path))
    for n, chunk in enumerate(chunks, start=1):
        heading = chunk.heading_path
        if RESOURCE_LIST.search(heading) or _MISTAKES.search(heading):  # resource entries describe a link
            continue
        if not studying and _STUDY_SECTION.search(heading):
            continue
        for part in chunk.text.split(GAP.strip()):
            if "```" in part:
                continue
            for sentence in sentences(part):
                if _LINK.search(sentence) or sentence.startswith("|") or _SELF_CHECK.match(sentence):
                    continue  # a link, a table row, a self-check
                if POINTS_BACK.match(sentence) or _LEANS_BACK.match(sentence) or _PRONOUN.search(sentence):
                    continue  # no sense alone
                if len(content_words(sentence)) >= MIN_WORDS and sentence[-1:] in ".!?)":
                    out.append((n, sentence))
    return out


def _already_said(sentence: str, answer_words: set[str], matched: list[str]) -> bool:
    if any(sentence in m or m in sentence for m in matched if m):
        return True
    words = set(content_words(sentence))
    return bool(words) and len(words & answer_words) / len(words) >= SAID_SHARE


def key_points(
    question: str,
    chunks: list[RetrievedChunk],
    embedder: BaseEmbedding,
    answer: str,
    matched: list[str],
    *,
    limit: int = 3,
    floor: float = 0.45,
) -> list[tuple[int, str]]:
    """Up to ``limit`` (source number, sentence) pairs, best first; ``matched``: the source sentences the
    support check matched to the answer's own sentences."""
    if limit <= 0 or not chunks:
        return []
    answer_words = set(content_words(answer))
    found = [(n, s) for n, s in _candidates(question, chunks) if not _already_said(s, answer_words, matched)]
    if not found:
        return []
    q_vec, *vectors = embedder.get_text_embedding_batch([question, *(s for _, s in found)])
    q_words = set(content_words(question))
    scored = [
        (cosine(q_vec, vec) + LEXICAL_WEIGHT * lexical_share(q_words, s), i)
        for i, ((_, s), vec) in enumerate(zip(found, vectors, strict=True))
    ]
    sources = [linkable(c.text) for c in chunks]
    points: list[tuple[int, str]] = []
    seen: set[frozenset[str]] = set()
    for score, i in sorted(scored, reverse=True):
        if score < floor or len(points) >= limit:
            break
        n, sentence = found[i]
        if n > TOP_CHUNKS and score < floor + LATER_MARGIN:  # a lower-ranked source drifts off the question
            continue
        words = frozenset(content_words(sentence))
        if words in seen:  # the same sentence in two overlapping chunks
            continue
        seen.add(words)
        points.append((n, sanitize_answer(sentence, sources).text))
    return points


def split_key_points(text: str) -> tuple[str, str]:
    """An answer's own text, and the block of quoted key points after it ("" when none)."""
    body, marker, points = text.rpartition(f"\n\n{HEADER}\n")
    return (body, f"{HEADER}\n{points}") if marker else (text, "")


def format_key_points(points: list[tuple[int, str]]) -> str:
    """The points as a list under a header, each ending with its source number ("" for none)."""
    if not points:
        return ""
    return "\n".join([HEADER, *(f"- {sentence} [{n}]" for n, sentence in points)])
