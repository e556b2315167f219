"""Weighted reciprocal rank fusion: one ranking out of several (vector search, BM25), by rank alone.

Scores from different retrievers are not comparable (a cosine and a BM25 score); ranks are. Each id scores
``sum(weight / (k + rank))`` over the rankings it appears in, rank counted from 1; a larger ``k`` flattens the
difference between the top ranks. Deterministic: ties go to the id with the best single rank, then to the one
met first (rankings in the order given, each from the top).
"""

from __future__ import annotations

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: dict[str, list[str]], weights: dict[str, float] | None = None, k: int = RRF_K
) -> list[tuple[str, float]]:
    """(id, fused score) for every id of every ranking with a positive weight (default 1), best first.

    An id listed twice in one ranking counts once, at its better rank.
    """
    if k < 0:
        raise ValueError("k must not be negative")
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    first: dict[str, int] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        if weight < 0:
            raise ValueError(f"weight of {name!r} must not be negative")
        if weight == 0:
            continue
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best[item] = min(best.get(item, rank), rank)
            first.setdefault(item, len(first))
    ordered = sorted(scores, key=lambda item: (-scores[item], best[item], first[item]))
    return [(item, scores[item]) for item in ordered]
