"""Top-k retrieval over the Chroma collection through llama-index."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from llama_index.core import VectorStoreIndex
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import BaseModel

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from llama_index.core.base.embeddings.base import BaseEmbedding


def cosine_from_chroma(score: float) -> float:
    """llama-index reports Chroma hits as exp(-distance); with cosine distance this recovers cos."""
    return 1.0 + math.log(score) if score > 0 else -1.0


class RetrievedChunk(BaseModel):
    id: str
    text: str
    score: float  # cosine similarity between question and chunk, -1..1
    source: str
    doc_id: str
    title: str
    heading: str
    heading_path: str
    stage: int = -1
    topics: str = ""

    @property
    def label(self) -> str:
        """Where the chunk comes from, for citations: ``file — heading path``."""
        return f"{self.source} — {self.heading_path or self.title}"


def to_chunk(node_id: str, text: str, score: float, meta: dict[str, Any]) -> RetrievedChunk:
    return RetrievedChunk(
        id=node_id,
        text=text,
        score=float(score),
        source=str(meta.get("source", "?")),
        doc_id=str(meta.get("doc_id", "")),
        title=str(meta.get("title", "")),
        heading=str(meta.get("heading", "")),
        heading_path=str(meta.get("heading_path", "")),
        stage=int(meta.get("stage", -1)),
        topics=str(meta.get("topics", "")),
    )


class Retriever:
    def __init__(self, collection: Collection, embedder: BaseEmbedding, top_k: int = 5) -> None:
        self.collection = collection
        self.top_k = top_k
        store = ChromaVectorStore(chroma_collection=collection)
        self._index = VectorStoreIndex.from_vector_store(store, embed_model=embedder)

    def retrieve(self, query: str, *, top_k: int | None = None, stage: int | None = None) -> list[RetrievedChunk]:
        filters = None
        if stage is not None:
            filters = MetadataFilters(filters=[MetadataFilter(key="stage", value=stage, operator=FilterOperator.EQ)])
        retriever = self._index.as_retriever(similarity_top_k=top_k or self.top_k, filters=filters)
        found = retriever.retrieve(query)
        return [
            to_chunk(
                n.node.node_id,
                n.node.get_content(),
                cosine_from_chroma(n.score or 0.0),
                {"doc_id": n.node.ref_doc_id or "", **n.node.metadata},
            )
            for n in found
        ]
