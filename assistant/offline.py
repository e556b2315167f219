"""Offline hygiene, applied once before any library that would reach the network is imported.

The package's ``__init__`` calls :func:`apply` first thing, so importing anything from ``assistant``
(the CLI, the UI, ingest and evals all do) sets these variables before tiktoken, Hugging Face,
Chroma, ragas or Streamlit are loaded. Values already set by the user win.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

_FIXED = {
    # Hugging Face: never try the hub; models load from local paths only.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # Telemetry off.
    "ANONYMIZED_TELEMETRY": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    # Quieter, deterministic tokenizers in worker threads.
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
}


def _tiktoken_cache_dir() -> str | None:
    """The tiktoken BPE files that llama-index-core ships (cl100k_base, o200k_base)."""
    spec = find_spec("llama_index.core")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "_static" / "tiktoken_cache"
    return str(folder) if folder.is_dir() else None


def apply() -> None:
    for key, value in _FIXED.items():
        os.environ.setdefault(key, value)
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        cache = _tiktoken_cache_dir()
        if cache:
            os.environ["TIKTOKEN_CACHE_DIR"] = cache
