"""Incremental ingestion into Chroma: only new or changed documents are embedded.

Each chunk carries its document's content hash. A run compares the hashes on disk with those in
the collection: unchanged documents cost nothing, a changed document's new chunks are written
before its old ones are deleted (a crash leaves the old version queryable), and documents that
disappeared from an ingested folder are removed. One writer at a time, enforced by a file lock.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.vector_stores.chroma import ChromaVectorStore

from assistant.errors import TutorError
from assistant.settings import Settings
from assistant.vectorstore.chroma import get_or_create_collection
from ingest.chunking import chunk_document
from ingest.documents import Skipped, SourceDoc, discover, read_document, source_key
from ingest.report import IngestReport, SkippedDoc

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.base.embeddings.base import BaseEmbedding

Progress = Callable[[str, int, int], None]  # (phase, done, total)
EMBED_BATCH = 32


def _noop(phase: str, done: int, total: int) -> None:
    return None


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        client: ClientAPI,
        embedder_factory: Callable[[], BaseEmbedding],
        *,
        lock_timeout_s: float = 0,
    ) -> None:
        self.settings = settings
        self.client = client
        self._embedder_factory = embedder_factory
        self._embedder: BaseEmbedding | None = None
        self.lock_timeout_s = lock_timeout_s

    @property
    def embedder(self) -> BaseEmbedding:
        if self._embedder is None:  # loaded only when something needs embedding
            self._embedder = self._embedder_factory()
        return self._embedder

    def signature(self) -> str:
        s = self.settings
        return f"{s.embedding_model}|{s.chunk_size}|{s.chunk_overlap}|v1"

    def run(self, paths: list[Path], *, rebuild: bool = False, progress: Progress = _noop) -> IngestReport:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.settings.data_dir / "ingest.lock"), timeout=self.lock_timeout_s)
        try:
            with lock:
                return self._run(paths, rebuild, progress)
        except Timeout:
            raise TutorError(
                "Another ingest is writing to the index right now.",
                "wait for it to finish, then run this again.",
            ) from None

    def _run(self, paths: list[Path], rebuild: bool, progress: Progress) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(rebuilt=rebuild)
        if rebuild:
            with contextlib.suppress(Exception):  # a missing collection has nothing to delete
                self.client.delete_collection(self.settings.collection)
        col = get_or_create_collection(self.client, self.settings)
        store = ChromaVectorStore(chroma_collection=col)

        files, skipped = discover(paths)
        docs: list[SourceDoc] = []
        for i, path in enumerate(files, start=1):
            item = read_document(path, self.signature())
            (docs if isinstance(item, SourceDoc) else skipped).append(item)  # type: ignore[arg-type]
            progress("read", i, len(files))
        report.documents_skipped = [
            SkippedDoc(source=s.source, reason=s.reason) for s in skipped if isinstance(s, Skipped)
        ]

        existing = self._existing(col)
        todo: list[tuple[SourceDoc, list[TextNode]]] = []
        for doc in docs:
            old_hashes = existing.get(doc.source, {})
            if set(old_hashes) == {doc.content_hash}:
                report.documents_unchanged.append(doc.source)
                report.chunks_per_doc[doc.source] = len(old_hashes[doc.content_hash])
                continue
            (report.documents_changed if old_hashes else report.documents_new).append(doc.source)
            nodes = chunk_document(doc, self.settings.chunk_size, self.settings.chunk_overlap)
            report.chunks_per_doc[doc.source] = len(nodes)
            todo.append((doc, nodes))

        embed_start = time.perf_counter()
        self._embed_and_write(store, [n for _, n in todo], progress)
        report.embed_seconds = time.perf_counter() - embed_start
        report.chunks_added = sum(len(n) for _, n in todo)

        for doc, _ in todo:  # new chunks are in: now drop the old versions
            stale = [i for h, ids in existing.get(doc.source, {}).items() if h != doc.content_hash for i in ids]
            report.chunks_removed += self._delete(col, stale)

        roots = [source_key(p) for p in paths if p.is_dir()]
        present = {d.source for d in docs} | {s.source for s in report.documents_skipped}
        for source, hashes in existing.items():
            if source not in present and any(source.startswith(r.rstrip("/") + "/") for r in roots):
                report.documents_removed.append(source)
                report.chunks_removed += self._delete(col, [i for ids in hashes.values() for i in ids])

        report.chunks_total = col.count()
        report.seconds = time.perf_counter() - started
        report.write(self.settings.data_dir)
        return report

    @staticmethod
    def _existing(col: Collection) -> dict[str, dict[str, list[str]]]:
        """source -> content hash -> chunk ids, as stored in the collection."""
        found: dict[str, dict[str, list[str]]] = {}
        got = col.get(include=["metadatas"])
        for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            source = str((meta or {}).get("source", ""))
            found.setdefault(source, {}).setdefault(str((meta or {}).get("doc_hash", "")), []).append(cid)
        return found

    @staticmethod
    def _delete(col: Collection, ids: list[str]) -> int:
        for i in range(0, len(ids), 500):
            col.delete(ids=ids[i : i + 500])
        return len(ids)

    def _embed_and_write(self, store: ChromaVectorStore, groups: list[list[TextNode]], progress: Progress) -> None:
        nodes = [n for group in groups for n in group]
        if not nodes:
            return
        done = 0
        progress("embed", 0, len(nodes))
        for i in range(0, len(nodes), EMBED_BATCH):
            batch: list[BaseNode] = list(nodes[i : i + EMBED_BATCH])
            texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in batch]
            vectors = self.embedder.get_text_embedding_batch(texts)
            for node, vector in zip(batch, vectors, strict=True):
                node.embedding = vector
            store.add(batch)
            done += len(batch)
            progress("embed", done, len(nodes))
