"""The summary every ingest run ends with, kept as JSON in the data folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field


class SkippedDoc(BaseModel):
    source: str
    reason: str


class IngestReport(BaseModel):
    started: datetime = Field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0
    documents_new: list[str] = Field(default_factory=list)
    documents_changed: list[str] = Field(default_factory=list)
    documents_removed: list[str] = Field(default_factory=list)
    documents_unchanged: list[str] = Field(default_factory=list)
    documents_skipped: list[SkippedDoc] = Field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    chunks_per_doc: dict[str, int] = Field(default_factory=dict)
    embed_seconds: float = 0.0
    rebuilt: bool = False

    @property
    def embed_rate(self) -> float:
        return self.chunks_added / self.embed_seconds if self.embed_seconds > 0 else 0.0

    @property
    def ingested_anything(self) -> bool:
        return bool(self.documents_new or self.documents_changed or self.documents_unchanged)

    def summary(self) -> str:
        lines = [
            f"documents: {len(self.documents_new)} new, {len(self.documents_changed)} changed, "
            f"{len(self.documents_removed)} removed, {len(self.documents_unchanged)} unchanged, "
            f"{len(self.documents_skipped)} skipped",
            f"chunks: +{self.chunks_added} -{self.chunks_removed}, {self.chunks_total} in the index",
            f"time: {self.seconds:.1f} s"
            + (f", embedding {self.embed_rate:.0f} chunks/s" if self.chunks_added else ""),
        ]
        lines += [f"skipped {s.source}: {s.reason}" for s in self.documents_skipped]
        return "\n".join(lines)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "last-ingest.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.model_dump(mode="json"), indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def load_last(cls, folder: Path) -> IngestReport | None:
        try:
            return cls.model_validate_json((folder / "last-ingest.json").read_text())
        except (OSError, ValueError):
            return None
