"""Retrieval quality without any LLM: hit@k, recall@k and MRR of the reference sources.

A retrieved chunk matches a reference source when its document id equals the source's ``doc`` and the
reference heading is one of the elements of the chunk's heading path (so a section's sub-headings count).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel

from evals.golden import SourceRef


class ChunkLike(Protocol):
    @property
    def doc_id(self) -> str: ...

    @property
    def heading_path(self) -> str: ...


class ItemRetrieval(BaseModel):
    id: str
    hit: float  # 1.0 if any reference source is in the top k
    recall: float  # share of the reference sources found in the top k
    rr: float  # 1 / rank of the first matching chunk, 0 if none
    ranks: list[int]  # rank (1-based) of the first match of each reference source, 0 if missing


class RetrievalReport(BaseModel):
    k: int
    items: list[ItemRetrieval]

    @property
    def metrics(self) -> dict[str, float]:
        n = len(self.items) or 1
        return {
            "hit_at_k": round(sum(i.hit for i in self.items) / n, 6),
            "recall_at_k": round(sum(i.recall for i in self.items) / n, 6),
            "mrr": round(sum(i.rr for i in self.items) / n, 6),
        }


def matches(chunk: ChunkLike, source: SourceRef) -> bool:
    parts = [p.strip() for p in chunk.heading_path.split(" > ")]
    return chunk.doc_id == source.doc and source.heading.strip() in parts


def score_item(item_id: str, sources: Sequence[SourceRef], chunks: Sequence[ChunkLike]) -> ItemRetrieval:
    ranks = [next((r for r, c in enumerate(chunks, start=1) if matches(c, s)), 0) for s in sources]
    found = [r for r in ranks if r]
    return ItemRetrieval(
        id=item_id,
        hit=1.0 if found else 0.0,
        recall=len(found) / len(sources) if sources else 0.0,
        rr=1.0 / min(found) if found else 0.0,
        ranks=ranks,
    )
