"""The progress callback every long job takes: ``progress(phase, done, total)``.

Phases name the step being counted ("read", "fetch", "embed" in ingest; "generate" in practice; "record",
"score" in evals); the terminal bars (``ui/progress.py``) and the app's status boxes implement it.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    """The default: report nothing."""
    return None
