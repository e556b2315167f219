"""The write side of the index: what is stored, health checks, writes, and the --rebuild swap.

A rebuild fills a staging collection (``<name>-rebuild``) while the live one keeps answering, then
swaps names (live -> ``<name>-previous``, staging -> live) and drops the previous one. A run that
dies between the two renames is repaired by the next run. A journal file marks a run in progress,
so a run interrupted after deleting chunks is not mistaken for damage by the next one.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.embedding.minilm import EMBEDDING_DIMS
from assistant.errors import IndexError_
from assistant.settings import Settings
from assistant.vectorstore.chroma import collection_metadata, get_or_create_collection
from ingest.report import IngestReport

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.schema import TextNode

JOURNAL = "ingest-journal.json"
WRITE_BATCH = 500


@dataclass
class StoredDoc:
    source: str
    origin: str = "file"
    parent: str = ""
    hashes: dict[str, list[str]] = field(default_factory=dict)  # content hash -> chunk ids

    @property
    def ids(self) -> list[str]:
        return [i for ids in self.hashes.values() for i in ids]


def store_label(settings: Settings) -> str:
    if settings.chroma_host:
        return f"{settings.chroma_host}:{settings.chroma_port}"
    return str(settings.chroma_dir.resolve())


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
                raise _damaged(f"The index '{self.name}' at {label} is missing, but the last ingest left {expected}")
            return bool(journal)
        try:  # chromadb raises InternalError from count() or query() when an index file is broken
            col = self.client.get_collection(self.name)
            count = col.count()
            if count:
                dim = EMBEDDING_DIMS[self.settings.embedding_model]
                probe: list[Sequence[float]] = [[1.0] + [0.0] * (dim - 1)]
                col.query(query_embeddings=probe, n_results=1, include=[])
        except Exception as exc:
            raise _damaged(f"The index at {label} cannot be read ({type(exc).__name__})") from None
        if count < expected:
            raise _damaged(f"The index at {label} holds {count} chunks but the last ingest left {expected}")
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
        got = col.get(include=["metadatas"])
        for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            meta = meta or {}
            source = str(meta.get("source", ""))
            doc = found.get(source)
            if doc is None:
                doc = found[source] = StoredDoc(source, str(meta.get("origin", "file")), str(meta.get("parent", "")))
            doc.hashes.setdefault(str(meta.get("doc_hash", "")), []).append(cid)
        return found

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


def _damaged(what: str) -> IndexError_:
    return IndexError_(
        f"{what}: it looks damaged, so nothing was changed.",
        "rebuild it with `tutor ingest --rebuild` (the damaged index stays in place until the new one is complete).",
    )
