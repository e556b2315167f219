"""The write side of the index: what is stored, health checks, writes, and the --rebuild swap.

A rebuild fills a staging collection (``<name>-rebuild``) while the live one keeps answering, then
swaps names (live -> ``<name>-previous``, staging -> live) and drops the previous one. A run that
dies between the two renames is repaired by the next run. A journal file marks a run in progress,
so a run interrupted after deleting chunks is not mistaken for damage by the next one.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.embedding.minilm import EMBEDDING_DIMS
from assistant.errors import IndexError_
from assistant.settings import Settings
from assistant.vectorstore.chroma import (
    collection_metadata,
    damaged_index,
    get_all,
    get_or_create_collection,
    open_client,
    store_label,
)
from ingest.report import IngestReport

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.schema import TextNode

JOURNAL = "ingest-journal.json"
DAMAGED_SUFFIX = ".damaged"
COMPLETE_KEY = "doc_chunks"  # every chunk records how many chunks its document version has
WRITE_BATCH = 500


@dataclass
class StoredDoc:
    source: str
    origin: str = "file"
    parent: str = ""
    hashes: dict[str, list[str]] = field(default_factory=dict)  # content hash -> chunk ids
    expected: dict[str, int] = field(default_factory=dict)  # content hash -> chunks that version has

    @property
    def ids(self) -> list[str]:
        return [i for ids in self.hashes.values() for i in ids]

    def complete(self, content_hash: str) -> bool:
        """All chunks of this version are stored (a run killed while writing it leaves some out).

        Chunks written before the count was recorded carry none and count as complete.
        """
        ids = self.hashes.get(content_hash)
        return ids is not None and len(ids) >= self.expected.get(content_hash, 0)


def open_store(settings: Settings, *, rebuild: bool = False) -> tuple[ClientAPI, Path | None]:
    """A Chroma client for an ingest run, and where a damaged store was moved (None if it was not).

    For ``--rebuild``, an embedded store too damaged to open is moved aside (``chroma.damaged``, kept until
    the next such repair) and a new one is started in its place.
    """
    try:
        return open_client(settings), None
    except IndexError_:
        if not rebuild or settings.chroma_host:
            raise
    aside = settings.chroma_dir.with_name(settings.chroma_dir.name + DAMAGED_SUFFIX)
    if aside.exists():
        shutil.rmtree(aside)
    settings.chroma_dir.rename(aside)
    return open_client(settings, fresh=True), aside


class IndexStore:
    def __init__(self, client: ClientAPI, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.name = settings.collection
        self.staging_name = f"{self.name}-rebuild"
        self.previous_name = f"{self.name}-previous"
        self.journal_path = settings.data_dir / JOURNAL

    # --- collections ---------------------------------------------------------------------------
    def _names(self) -> set[str]:
        return {c if isinstance(c, str) else c.name for c in self.client.list_collections()}

    def recover(self) -> None:
        """Repair what an interrupted run left: a half-done swap, a stale staging collection."""
        names = self._names()
        if self.name not in names and self.previous_name in names:
            self.client.get_collection(self.previous_name).modify(name=self.name)
        elif self.previous_name in names:
            self.client.delete_collection(self.previous_name)
        if self.staging_name in self._names():
            self.client.delete_collection(self.staging_name)

    def live(self) -> Collection:
        return get_or_create_collection(self.client, self.settings)

    def staging(self) -> Collection:
        with contextlib.suppress(Exception):
            self.client.delete_collection(self.staging_name)
        return self.client.create_collection(self.staging_name, metadata=collection_metadata(self.settings))

    def swap_in(self, staged: Collection) -> Collection:
        """Make the staged collection the live one; the live one is dropped only after the rename."""
        if self.name in self._names():
            self.client.get_collection(self.name).modify(name=self.previous_name)
        staged.modify(name=self.name)
        with contextlib.suppress(Exception):
            self.client.delete_collection(self.previous_name)
        return self.client.get_collection(self.name)

    # --- health ------------------------------------------------------------------------------
    def check_health(self, last: IngestReport | None) -> bool:
        """Raise when the live index holds fewer chunks than the last run left, or cannot be queried.

        Returns True when the previous run was interrupted (and this run repairs what it left).
        """
        journal = self._read_journal()
        label = store_label(self.settings)
        expected = 0
        if last and last.store == label and last.collection == self.name:
            expected = max(0, last.chunks_total - int(journal.get("planned_removals", 0)))
        exists = self.name in self._names()
        if not exists:
            if expected:
                raise damaged_index(
                    f"The index '{self.name}' at {label} is missing, but the last ingest left {expected}"
                )
            return bool(journal)
        try:  # chromadb raises InternalError from count() or query() when an index file is broken
            col = self.client.get_collection(self.name)
            count = col.count()
            if count:
                dim = EMBEDDING_DIMS[self.settings.embedding_model]
                probe: list[Sequence[float]] = [[1.0] + [0.0] * (dim - 1)]
                col.query(query_embeddings=probe, n_results=1, include=[])
        except Exception as exc:
            raise damaged_index(f"The index at {label} cannot be read ({type(exc).__name__})") from None
        if count < expected:
            raise damaged_index(f"The index at {label} holds {count} chunks but the last ingest left {expected}")
        return bool(journal)

    # --- journal -----------------------------------------------------------------------------
    def _read_journal(self) -> dict[str, Any]:
        try:
            data = json.loads(self.journal_path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def journal(self, **values: Any) -> None:
        data = {**self._read_journal(), "started": time.time(), **values}
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.journal_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.journal_path)

    def plan_removals(self, n: int) -> None:
        """Record, before deleting, how many chunks this run removes (the health check allows for them)."""
        self.journal(planned_removals=int(self._read_journal().get("planned_removals", 0)) + n)

    def end_journal(self) -> None:
        self.journal_path.unlink(missing_ok=True)

    # --- contents ----------------------------------------------------------------------------
    @staticmethod
    def stored_docs(col: Collection) -> dict[str, StoredDoc]:
        found: dict[str, StoredDoc] = {}
        got = get_all(col, ["metadatas"])
        for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
            meta = meta or {}
            source = str(meta.get("source", ""))
            doc = found.get(source)
            if doc is None:
                doc = found[source] = StoredDoc(source, str(meta.get("origin", "file")), str(meta.get("parent", "")))
            content_hash = str(meta.get("doc_hash", ""))
            doc.hashes.setdefault(content_hash, []).append(cid)
            expected = meta.get(COMPLETE_KEY)
            if isinstance(expected, int):
                doc.expected[content_hash] = max(expected, doc.expected.get(content_hash, 0))
        return found

    @staticmethod
    def incomplete(docs: dict[str, StoredDoc]) -> list[str]:
        """Documents with a version that lost chunks to an interrupted write."""
        return sorted(source for source, doc in docs.items() if not all(doc.complete(h) for h in doc.hashes))

    @staticmethod
    def write(col: Collection, nodes: list[TextNode]) -> None:
        """Upsert chunks with their vectors, stored the way llama-index's Chroma reader expects."""
        from llama_index.core.schema import MetadataMode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        for i in range(0, len(nodes), WRITE_BATCH):
            batch = nodes[i : i + WRITE_BATCH]
            metadatas: list[Any] = []
            for node in batch:
                meta = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
                metadatas.append({k: ("" if v is None else v) for k, v in meta.items()})
            vectors: list[Sequence[float]] = [n.get_embedding() for n in batch]
            col.upsert(
                ids=[n.node_id for n in batch],
                embeddings=vectors,
                metadatas=metadatas,
                documents=[n.get_content(metadata_mode=MetadataMode.NONE) for n in batch],
            )

    @staticmethod
    def delete(col: Collection, ids: list[str]) -> int:
        for i in range(0, len(ids), WRITE_BATCH):
            col.delete(ids=ids[i : i + WRITE_BATCH])
        return len(ids)
