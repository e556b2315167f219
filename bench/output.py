"""Where a benchmark's results go: ``bench/results/<name>-<time>.json`` (with the machine's description) and
a ``.md`` twin holding the table printed on stdout. The folder is git-ignored."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor()}


def write_results(name: str, record: dict[str, Any], text: str) -> Path:
    """The record (the machine added first) as JSON and the table as Markdown; returns the JSON's path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{stamp}.json"
    out.write_text(json.dumps({"machine": machine(), **record}, indent=1) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    print(f"written: bench/results/{out.name}")
    return out
