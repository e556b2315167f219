"""BM25 keyword search (bm25s) over the chunks of one Chroma collection, kept on disk beside the data.

Vectors miss exact rare terms (an exam code like "MLS-C01", an optimiser like "AdamW"); BM25 finds them. The
index is built from each chunk's heading path and text, tokenised with :func:`assistant.text.content_words`, and
saved in a directory: the bm25s arrays in a version folder, and a JSON sidecar (``lexical.json``) naming that
folder, with the chunk ids in index order, each chunk's stage and the fingerprint of the collection it was built
from (count + sha256 of the sorted ids).

Writes are atomic and serialised: the arrays go to a temp folder renamed into place, then the sidecar is replaced
in one rename, under a file lock; a killed writer leaves the previous index whole. :meth:`LexicalIndex.open`
rebuilds an index that is missing, unreadable or out of step with its collection; ingest calls
:func:`sync_lexical` after each change.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from filelock import FileLock, Timeout
from pydantic import BaseModel

from assistant.text import content_words
from assistant.vectorstore.chroma import get_all

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

SIDECAR = "lexical.json"
FORMAT = 1
LOCK_TIMEOUT_S = 60.0


class LexicalMeta(BaseModel):
    """The sidecar: what the arrays in ``data`` index, in order, and the collection they were built from."""

    format: int = FORMAT
    fingerprint: str
    ids: list[str]
    stages: list[int]
    data: str | None = None  # the folder (beside the sidecar) holding the bm25s arrays; None: an empty index


def fingerprint_of(ids: Iterable[str]) -> str:
    """``<count>:<sha256 of the sorted ids>``: chunk ids carry their content hash, so this changes with content."""
    ordered = sorted(ids)
    digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()
    return f"{len(ordered)}:{digest}"


def collection_fingerprint(collection: Collection) -> str:
    """The fingerprint of what ``collection`` holds now."""
    return fingerprint_of(get_all(collection, [])["ids"])


def _stage(meta: Any) -> int:
    try:
        return int((meta or {}).get("stage", -1))
    except (TypeError, ValueError):
        return -1


def _index_text(document: str | None, meta: Any) -> str:
    return f"{(meta or {}).get('heading_path', '')}\n{document or ''}"


def _lock(directory: Path) -> FileLock:
    directory.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(directory.parent / f"{directory.name}.lock"), timeout=LOCK_TIMEOUT_S)


class LexicalIndex:
    """BM25 scores for the chunks of one collection; ``search`` returns (chunk id, score), best first."""

    def __init__(self, ids: list[str], stages: list[int], fingerprint: str, bm25: Any | None) -> None:
        if len(ids) != len(stages):
            raise ValueError("ids and stages differ in length")
        self.ids = ids
        self.stages = stages
        self.fingerprint = fingerprint
        self._bm25 = bm25  # bm25s.BM25, or None when nothing has a searchable word
        self._stage_array = np.asarray(stages, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    # --- building ----------------------------------------------------------------------------
    @classmethod
    def build(cls, collection: Collection) -> LexicalIndex:
        """Index every chunk of ``collection`` (ordered by id, so ties break the same way on every build)."""
        got = get_all(collection, ["documents", "metadatas"])
        rows = sorted(zip(got["ids"], got["documents"], got["metadatas"], strict=True), key=lambda row: row[0])
        ids = [cid for cid, _, _ in rows]
        stages = [_stage(meta) for _, _, meta in rows]
        tokens = [content_words(_index_text(doc, meta)) for _, doc, meta in rows]
        bm25 = None
        if any(tokens):
            import bm25s

            bm25 = bm25s.BM25()
            bm25.index(tokens, create_empty_token=False, show_progress=False)
        return cls(ids, stages, fingerprint_of(ids), bm25)

    # --- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the index to ``directory`` atomically, replacing what is there (one writer at a time)."""
        with _lock(directory):
            self._write(directory)

    def _write(self, directory: Path) -> None:
        """Arrays into a temp folder renamed to a fresh version folder, then the sidecar swapped in. Lock held."""
        directory.mkdir(parents=True, exist_ok=True)
        previous = _sidecar_data(directory)
        version: str | None = None
        if self._bm25 is not None:
            version = f"v-{uuid.uuid4().hex[:12]}"
            tmp = directory / f".tmp-{version}"
            self._bm25.save(str(tmp))
            os.rename(tmp, directory / version)
        meta = LexicalMeta(fingerprint=self.fingerprint, ids=self.ids, stages=self.stages, data=version)
        tmp_sidecar = directory / f".{SIDECAR}.{uuid.uuid4().hex[:8]}.tmp"
        tmp_sidecar.write_text(meta.model_dump_json())
        os.replace(tmp_sidecar, directory / SIDECAR)
        # The superseded version stays for a reader that read the old sidecar a moment ago; older ones go,
        # with whatever a killed writer left.
        for entry in directory.iterdir():
            if entry.name in (SIDECAR, version, previous):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        """The index saved in ``directory``; None when it is missing, unreadable or inconsistent (never raises)."""
        try:
            meta = LexicalMeta.model_validate_json((directory / SIDECAR).read_bytes())
            if meta.format != FORMAT or len(meta.ids) != len(meta.stages):
                return None
            bm25 = None
            if meta.data is not None:
                if not _plain_name(meta.data):
                    return None
                import bm25s

                bm25 = bm25s.BM25.load(str(directory / meta.data))
                if not _consistent(bm25, len(meta.ids)):
                    return None
            return cls(meta.ids, meta.stages, meta.fingerprint, bm25)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged file raises anything from json, numpy or bm25s: rebuild instead
            log.warning("lexical index at %s is unreadable (%s); it will be rebuilt", directory, type(exc).__name__)
            return None

    @classmethod
    def open(cls, collection: Collection, directory: Path) -> LexicalIndex:
        """The saved index when it matches ``collection``; otherwise rebuilt (and saved when the disk allows)."""
        found = cls.load(directory)
        if found is not None and found.fingerprint == collection_fingerprint(collection):
            return found
        try:
            with _lock(directory):
                found = cls.load(directory)  # another process may have rebuilt it while we waited
                if found is not None and found.fingerprint == collection_fingerprint(collection):
                    return found
                built = cls.build(collection)
                try:
                    built._write(directory)
                except OSError as exc:
                    log.warning("cannot save the lexical index at %s (%s); using it from memory", directory, exc)
                return built
        except (Timeout, OSError) as exc:
            log.warning("cannot lock the lexical index at %s (%s); building it in memory", directory, exc)
            return cls.build(collection)

    # --- searching ---------------------------------------------------------------------------
    def search(self, query: str, k: int, stage: int | None = None) -> list[tuple[str, float]]:
        """Up to ``k`` (chunk id, BM25 score) pairs with a score above 0, best first; ties in index order.

        Every chunk is scored (a sparse sum, cheap), so the stage filter never starves the result.
        """
        if self._bm25 is None or k <= 0:
            return []
        token_ids = self._bm25.get_tokens_ids(list(dict.fromkeys(content_words(query))))
        if not token_ids:  # no query word occurs in any chunk
            return []
        scores = np.asarray(self._bm25.get_scores_from_ids(token_ids), dtype=np.float64)
        mask = scores > 0
        if stage is not None:
            mask &= self._stage_array == stage
        hits = np.flatnonzero(mask)
        order = hits[np.lexsort((hits, -scores[hits]))][:k]
        return [(self.ids[i], float(scores[i])) for i in order]


def sync_lexical(collection: Collection, directory: Path) -> None:
    """Rebuild the lexical index of ``collection`` and save it: ingest calls this after every change."""
    LexicalIndex.build(collection).save(directory)


def _sidecar_data(directory: Path) -> str | None:
    try:
        return LexicalMeta.model_validate_json((directory / SIDECAR).read_bytes()).data
    except Exception:
        return None


def _plain_name(name: str) -> bool:
    return bool(name) and Path(name).name == name and not name.startswith(".")


def _consistent(bm25: Any, n_docs: int) -> bool:
    """Arrays that agree with each other and with the sidecar (a truncated or swapped file fails this)."""
    scores = bm25.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    return bool(
        scores.get("num_docs") == n_docs
        and len(data) == len(indices)
        and max(bm25.vocab_dict.values(), default=-1) < len(indptr) - 1
        and (len(indptr) == 0 or int(indptr[-1]) == len(data))
        and (len(indices) == 0 or 0 <= int(indices.min()) <= int(indices.max()) < n_docs)
    )
