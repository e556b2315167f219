"""Hybrid retrieval over the Chroma collection: vector search (llama-index) and BM25, fused by rank.

The query is embedded once. Vector search brings ``candidates`` chunks, the BM25 index
(:mod:`assistant.rag.lexical`) as many, and weighted reciprocal rank fusion (:mod:`assistant.rag.fusion`)
orders their union; the first ``top_k`` are returned. Every chunk's ``score`` stays the cosine similarity
between the query and the chunk (callers drop chunks below MIN_RELEVANCE), computed from the stored vector
for chunks that only BM25 found. :meth:`Retriever.search` also returns a :class:`RetrievalTrace` of the three
rankings. Without a ``lexical_dir`` (or with ``lexical_weight=0``) the retriever searches by vector only.
With ``section_priors`` the fused order then follows :mod:`assistant.rag.sections`: a question about how to
study gets its stage's study plan first; study plans and resource lists count half for other questions.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.errors import ChromaError
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import QueryBundle
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.vector_stores.chroma import ChromaVectorStore
from pydantic import BaseModel

from assistant.rag.fusion import reciprocal_rank_fusion
from assistant.rag.lexical import LexicalIndex
from assistant.rag.sections import ASIDE_WEIGHT, Section, asks_how_to_study, section_of, section_weight
from assistant.vectorstore.chroma import damaged_index

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from llama_index.core.base.embeddings.base import BaseEmbedding

VECTOR = "vector"
LEXICAL = "lexical"


def cosine_from_chroma(score: float) -> float:
    """llama-index reports Chroma hits as exp(-distance); with cosine distance this recovers cos."""
    return 1.0 + math.log(score) if score > 0 else -1.0


def cosine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros)."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb) / norm if norm > 0 else 0.0


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
    url: str = ""  # where a fetched web page came from; empty for local files
    fused: float = 0.0  # reciprocal rank fusion score (what the chunks are ordered by)
    vector_rank: int | None = None  # 1-based rank in the vector candidates; None: not among them
    lexical_rank: int | None = None  # 1-based rank in the BM25 candidates; None: not among them
    section_weight: float = 1.0  # the section prior's factor on ``fused`` (assistant.rag.sections)
    promoted: bool = False  # the study plan a question about studying gets first

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
        url=str(meta.get("url") or ""),
    )


class Hit(BaseModel):
    """One entry of a ranking: the chunk, its 1-based rank and that ranking's score."""

    id: str
    rank: int
    score: float  # vector: cosine; lexical: BM25; fused: reciprocal rank fusion
    source: str
    heading_path: str


class RetrievalTrace(BaseModel):
    """The rankings behind one search: vector candidates, BM25 candidates, and their fusion (in the final
    order, after the section priors; each hit's score is its fusion score)."""

    query: str
    vector: list[Hit]
    lexical: list[Hit]
    fused: list[Hit]
    priors: list[str] = []  # what the section priors did, in words


class Retriever:
    def __init__(
        self,
        collection: Collection,
        embedder: BaseEmbedding,
        top_k: int = 5,
        *,
        lexical_dir: Path | None = None,
        candidates: int = 20,
        rrf_k: int = 60,
        vector_weight: float = 1.0,
        lexical_weight: float = 1.0,
        section_priors: bool = True,
    ) -> None:
        if vector_weight < 0 or lexical_weight < 0:
            raise ValueError("fusion weights must not be negative")
        if vector_weight == 0 and (lexical_dir is None or lexical_weight == 0):
            raise ValueError("nothing to search with: give the vector or the lexical ranking a weight")
        self.collection = collection
        self.embedder = embedder
        self.top_k = top_k
        self.lexical_dir = lexical_dir if lexical_weight > 0 else None
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.weights = {VECTOR: vector_weight, LEXICAL: lexical_weight}
        self.section_priors = section_priors
        store = ChromaVectorStore(chroma_collection=collection)
        self._index = VectorStoreIndex.from_vector_store(store, embed_model=embedder)
        self._lexical: LexicalIndex | None = None
        self._lexical_lock = threading.Lock()

    @property
    def lexical(self) -> LexicalIndex | None:
        """The BM25 index, opened (and rebuilt if out of step) on first use; None for a vector-only retriever."""
        if self.lexical_dir is None:
            return None
        with self._lexical_lock:
            if self._lexical is None:
                self._lexical = LexicalIndex.open(self.collection, self.lexical_dir)
            return self._lexical

    def retrieve(self, query: str, *, top_k: int | None = None, stage: int | None = None) -> list[RetrievedChunk]:
        return self.search(query, top_k=top_k, stage=stage)[0]

    def search(
        self, query: str, *, top_k: int | None = None, stage: int | None = None
    ) -> tuple[list[RetrievedChunk], RetrievalTrace]:
        """The ``top_k`` best chunks by fused rank, and the trace of how they were ranked."""
        try:
            return self._search(query, top_k=top_k, stage=stage)
        except ChromaError as exc:  # a broken segment file or database behind an index that opened
            raise damaged_index(f"The index cannot be searched ({type(exc).__name__}: {exc})") from None

    def _search(
        self, query: str, *, top_k: int | None, stage: int | None
    ) -> tuple[list[RetrievedChunk], RetrievalTrace]:
        k = top_k or self.top_k
        n = max(self.candidates, k)
        embedding = self.embedder.get_query_embedding(query)
        found = self._vector_search(query, embedding, n, stage) if self.weights[VECTOR] > 0 else []
        chunks = {c.id: c for c in found}
        lexical_hits: list[tuple[str, float]] = []
        if self.lexical is not None:
            lexical_hits = self.lexical.search(query, n, stage=stage)
            chunks.update(self._fetch([i for i, _ in lexical_hits if i not in chunks], embedding))
            lexical_hits = [(i, s) for i, s in lexical_hits if i in chunks]  # an index a step behind Chroma
        rankings = {VECTOR: [c.id for c in found], LEXICAL: [i for i, _ in lexical_hits]}
        fused = reciprocal_rank_fusion(rankings, self.weights, k=self.rrf_k)
        vector_rank = {cid: r for r, cid in enumerate(rankings[VECTOR], start=1)}
        lexical_rank = {cid: r for r, cid in enumerate(rankings[LEXICAL], start=1)}
        ranked = [
            chunks[cid].model_copy(
                update={"fused": score, "vector_rank": vector_rank.get(cid), "lexical_rank": lexical_rank.get(cid)}
            )
            for cid, score in fused
        ]
        priors: list[str] = []
        if self.section_priors and ranked:
            ranked, priors = self._apply_priors(query, ranked, embedding, stage)
        trace = RetrievalTrace(
            query=query,
            vector=[_hit(c, r, c.score) for r, c in enumerate(found, start=1)],
            lexical=[_hit(chunks[cid], r, s) for r, (cid, s) in enumerate(lexical_hits, start=1)],
            fused=[_hit(c, r, c.fused) for r, c in enumerate(ranked, start=1)],
            priors=priors,
        )
        return ranked[:k], trace

    def _apply_priors(
        self, query: str, ranked: list[RetrievedChunk], embedding: list[float], stage: int | None
    ) -> tuple[list[RetrievedChunk], list[str]]:
        """``ranked`` reordered by the section priors, and what they did in words."""
        notes: list[str] = []
        weighted = [c.model_copy(update={"section_weight": section_weight(query, c.heading_path)}) for c in ranked]
        if asks_how_to_study(query):
            doc = ranked[0].doc_id
            plan = [c.model_copy(update={"promoted": True}) for c in self._study_plan(doc, weighted, embedding, stage)]
            if plan:
                notes.append(f"the question asks how to study: the study plan of {doc} first")
                ids = {c.id for c in plan}
                other_plan = {"section_weight": ASIDE_WEIGHT}  # another stage's plan answers another question
                weighted = plan + [
                    c.model_copy(update=other_plan) if section_of(c.heading_path) is Section.STUDY_PLAN else c
                    for c in weighted
                    if c.id not in ids
                ]
        halved = sorted({section_of(c.heading_path).value for c in weighted if c.section_weight != 1.0})
        if halved:
            notes.append(f"{' and '.join(halved)} sections the question does not ask for count at half weight")
        return sorted(weighted, key=lambda c: (not c.promoted, -_weighted(c))), notes  # stable: ties keep fused order

    def _study_plan(
        self, doc_id: str, found: list[RetrievedChunk], embedding: list[float], stage: int | None
    ) -> list[RetrievedChunk]:
        """The study-plan chunks of document ``doc_id``: those among ``found``, else fetched from Chroma."""
        plan = [c for c in found if c.doc_id == doc_id and section_of(c.heading_path) is Section.STUDY_PLAN]
        if plan or not doc_id:
            return plan
        got = self.collection.get(where={"doc_id": doc_id}, include=["metadatas"])
        ids = [
            cid
            for cid, meta in zip(got["ids"], got["metadatas"] or [{}] * len(got["ids"]), strict=True)
            if section_of(str((meta or {}).get("heading_path", ""))) is Section.STUDY_PLAN
        ]
        fetched = self._fetch(ids, embedding).values()
        return [c for c in fetched if stage is None or c.stage == stage]

    def _vector_search(self, query: str, embedding: list[float], n: int, stage: int | None) -> list[RetrievedChunk]:
        filters = None
        if stage is not None:
            filters = MetadataFilters(filters=[MetadataFilter(key="stage", value=stage, operator=FilterOperator.EQ)])
        retriever = self._index.as_retriever(similarity_top_k=n, filters=filters)
        found = retriever.retrieve(QueryBundle(query_str=query, embedding=embedding))  # embedded already
        return [
            to_chunk(
                hit.node.node_id,
                hit.node.get_content(),
                cosine_from_chroma(hit.score or 0.0),
                {"doc_id": hit.node.ref_doc_id or "", **hit.node.metadata},
            )
            for hit in found
        ]

    def _fetch(self, ids: list[str], embedding: list[float]) -> dict[str, RetrievedChunk]:
        """Chunks by id from Chroma, scored by the cosine of their stored vector with the query's."""
        if not ids:
            return {}
        from llama_index.core.vector_stores.utils import metadata_dict_to_node

        got = self.collection.get(ids=ids, include=["embeddings", "documents", "metadatas"])
        vectors = got["embeddings"] if got["embeddings"] is not None else [None] * len(got["ids"])
        documents = got["documents"] or [""] * len(got["ids"])
        metadatas = got["metadatas"] or [{}] * len(got["ids"])
        out: dict[str, RetrievedChunk] = {}
        for cid, vector, text, raw in zip(got["ids"], vectors, documents, metadatas, strict=True):
            meta: dict[str, Any] = dict(raw or {})
            try:  # the same reading llama-index's Chroma store does for vector hits
                node = metadata_dict_to_node(meta)
                meta = {"doc_id": node.ref_doc_id or "", **node.metadata}
            except Exception:  # written without llama-index's node JSON: the flat metadata has the fields
                pass
            score = cosine(embedding, vector) if vector is not None else -1.0
            out[cid] = to_chunk(cid, text or "", score, meta)
        return out


def _weighted(chunk: RetrievedChunk) -> float:
    return chunk.fused * chunk.section_weight


def _hit(chunk: RetrievedChunk, rank: int, score: float) -> Hit:
    return Hit(id=chunk.id, rank=rank, score=score, source=chunk.source, heading_path=chunk.heading_path)
