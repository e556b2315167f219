"""Which rubric points a mock-interview answer covers in other words: sentence embeddings (MiniLM).

The model's feedback and the word check (``interview.states_point``) both miss a sound answer that says
the point in its own vocabulary ("PSI or a KS test on each feature" for "data drift: input distributions
shift"). A point is credited when some sentence of the answer is within ``POINT_SIMILARITY`` cosine of it.
Measured on labelled pairs (tests/test_interview_coverage.py): paraphrases of a point scored 0.48-0.64,
answers on other points or topics at most 0.35.
"""

from __future__ import annotations

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from assistant.text import content_words, sentences

POINT_SIMILARITY = 0.45
ECHO = 0.8  # share of a sentence's content words already in the question: it repeats the question, earns nothing
MAX_SENTENCES = 40  # a long answer is read in full up to here (3,000 characters is the limit anyway)


def echoes(sentence: str, question: str) -> bool:
    words = content_words(sentence)
    asked = set(content_words(question))
    return bool(words) and sum(w in asked for w in words) / len(words) >= ECHO


def similar_points(embedder: BaseEmbedding, rubric: list[str], answer: str, question: str = "") -> set[int]:
    """1-based numbers of the rubric points some sentence of ``answer`` restates in other words (sentences
    that only repeat the question are not read)."""
    said = [s for s in sentences(answer) if len(s.split()) >= 3 and not echoes(s, question)][:MAX_SENTENCES]
    if not said or not rubric:
        return set()
    vectors = np.array(embedder.get_text_embedding_batch([*rubric, *said]), dtype=float)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    points, answer_vecs = vectors[: len(rubric)], vectors[len(rubric) :]
    best = (answer_vecs @ points.T).max(axis=0)
    return {i for i, score in enumerate(best, start=1) if score >= POINT_SIMILARITY}
