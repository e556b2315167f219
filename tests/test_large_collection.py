"""A collection past SQLite's 32,766 bound variables: a single Chroma `get` of every row's documents or metadata
fails there ("too many SQL variables"; found by bench/retrieval_bench.py at 100,000 chunks), which broke the BM25
build, incremental ingest's view of what is stored and the library page. Everything that reads a whole
collection goes through `get_all`, a page at a time. Real Chroma in a temp folder, 33,000 rows (small vectors:
the dimension plays no part in reading rows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

from assistant.rag.lexical import LexicalIndex, collection_fingerprint, fingerprint_of
from assistant.vectorstore.chroma import PAGE, get_all
from ingest.store import IndexStore

ROWS = 33_000  # over 32,766


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("big-chroma")
    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    col = client.create_collection("big-notes", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    vectors = np.random.default_rng(7).standard_normal((ROWS, 4)).astype(np.float32)
    for start in range(0, ROWS, PAGE):
        ids = [f"chunk-{i:06d}" for i in range(start, min(ROWS, start + PAGE))]
        col.add(
            ids=ids,
            embeddings=vectors[start : start + len(ids)],
            documents=[f"gradient descent notes part {i}" for i in range(start, start + len(ids))],
            metadatas=[
                {"source": f"notes-{i // 100:04d}.md", "doc_hash": f"h{i // 100}", "stage": 3}
                for i in range(start, start + len(ids))
            ],
        )
    return col


def test_every_row_is_read_once_with_its_fields(big):
    got = get_all(big, ["documents", "metadatas"])
    assert len(got["ids"]) == len(set(got["ids"])) == ROWS
    assert len(got["documents"]) == len(got["metadatas"]) == ROWS
    row = got["ids"].index("chunk-032999")
    assert got["documents"][row] == "gradient descent notes part 32999"
    assert got["metadatas"][row]["source"] == "notes-0329.md"
    assert collection_fingerprint(big) == fingerprint_of(got["ids"])


def test_the_bm25_index_builds_over_the_whole_collection(big):
    index = LexicalIndex.build(big)
    assert len(index) == ROWS
    assert index.search("part 32999", 3)[0][0] == "chunk-032999"  # the last page is indexed too


def test_ingest_sees_every_stored_document(big):
    docs = IndexStore.stored_docs(big)
    assert len(docs) == ROWS // 100
    assert sum(len(d.ids) for d in docs.values()) == ROWS
