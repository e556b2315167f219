"""Chroma, embedded (a folder in the data dir) or a server (``CHROMA_HOST``/``CHROMA_PORT``).

The collection records which embedding model and dimension filled it; opening it for queries with
another model is refused with the command that fixes it. We always pass our own vectors, so
Chroma's default embedder (which downloads a model) is never used.
"""

from __future__ import annotations

import json
from typing import Any

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.api.types import Include
from chromadb.config import Settings as ChromaSettings

from assistant.embedding.minilm import EMBEDDING_DIMS
from assistant.errors import IndexError_
from assistant.settings import Settings

LAST_INGEST_FILE = "last-ingest.json"  # written by every ingest run (ingest/report.py)
# Rows per read of a whole collection. Chroma binds one SQL variable per row when it fetches documents or
# metadata, and SQLite allows 32,766: a single `get` of a bigger collection fails ("too many SQL variables").
PAGE = 5000


def get_all(collection: Collection, include: Include) -> dict[str, list[Any]]:
    """Every row's id and ``include`` fields (``{"ids": [...], "metadatas": [...], ...}``, None where a row has
    no value), read a page at a time so any size of collection can be read. Callers hold the ingest lock or
    read a collection nobody writes, so the pages do not shift under them."""
    out: dict[str, list[Any]] = {"ids": [], **{field: [] for field in include}}
    offset = 0
    while True:
        got: Any = collection.get(include=include, limit=PAGE, offset=offset)
        ids = list(got["ids"])
        out["ids"].extend(ids)
        for field in include:
            out[field].extend(got.get(field) or [None] * len(ids))
        if len(ids) < PAGE:
            return out
        offset += PAGE


def open_client(settings: Settings, *, fresh: bool = False) -> ClientAPI:
    """A Chroma client. ``fresh`` drops Chroma's per-process cache so another process's writes show."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if fresh:
        SharedSystemClient.clear_system_cache()
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError here
            raise IndexError_(
                f"Cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} ({exc}).",
                "start it (`chroma run --path DIR`) or unset CHROMA_HOST to use the embedded store.",
            ) from None
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except Exception as exc:  # chromadb raises InternalError for a truncated or foreign chroma.sqlite3
        SharedSystemClient.clear_system_cache()  # or the broken client is handed out again
        raise damaged_index(f"The index at {settings.chroma_dir} cannot be opened ({_reason(exc)})") from None


def damaged_index(what: str) -> IndexError_:
    return IndexError_(
        f"{what}: it looks damaged; nothing was changed.",
        "rebuild it with `tutor ingest --rebuild` (it works from any damaged state; an embedded store that cannot "
        "be opened is kept aside as chroma.damaged).",
    )


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix("error returned from database: ")[:160]


def last_ingest_chunks(settings: Settings) -> int:
    """How many chunks the last ingest left in this store and collection (0 when unknown)."""
    try:
        data = json.loads((settings.data_dir / LAST_INGEST_FILE).read_text())
    except (OSError, ValueError):
        return 0
    if not isinstance(data, dict) or data.get("collection") != settings.collection:
        return 0
    if data.get("store") != store_label(settings):
        return 0
    total = data.get("chunks_total")
    return total if isinstance(total, int) and total > 0 else 0


def store_label(settings: Settings) -> str:
    """Where the index lives, as the ingest report names it."""
    if settings.chroma_host:
        return f"{settings.chroma_host}:{settings.chroma_port}"
    return str(settings.chroma_dir.resolve())


def collection_metadata(settings: Settings) -> dict[str, Any]:
    return {
        "embedding_model": settings.embedding_model,
        "embedding_dim": EMBEDDING_DIMS[settings.embedding_model],
        "hnsw:space": "cosine",
    }


def get_or_create_collection(client: ClientAPI, settings: Settings) -> Collection:
    col = client.get_or_create_collection(settings.collection, metadata=collection_metadata(settings))
    check_compatible(col, settings)
    return col


def open_collection(client: ClientAPI, settings: Settings) -> Collection:
    """The existing collection for queries; clear errors when it is missing or incompatible."""
    try:
        col = client.get_collection(settings.collection)
    except Exception:  # NotFoundError in chromadb 1.x; ValueError in older releases
        left = last_ingest_chunks(settings)
        if left:
            raise damaged_index(
                f"The index '{settings.collection}' at {store_label(settings)} is missing, "
                f"but the last ingest left {left} chunks"
            ) from None
        raise IndexError_(
            f"No index named '{settings.collection}' exists yet.",
            "run `tutor ingest` to build it from knowledge/.",
        ) from None
    check_compatible(col, settings)
    return col


def check_compatible(col: Collection, settings: Settings) -> None:
    meta = col.metadata or {}
    model, dim = meta.get("embedding_model"), meta.get("embedding_dim")
    want_dim = EMBEDDING_DIMS[settings.embedding_model]
    if model != settings.embedding_model or dim != want_dim:
        raise IndexError_(
            f"The index was built with embedding model {model!r} ({dim}-d) but "
            f"EMBEDDING_MODEL is {settings.embedding_model!r} ({want_dim}-d).",
            "re-ingest with `tutor ingest --rebuild`.",
        )
