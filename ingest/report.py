"""The summary every ingest run ends with, kept as JSON in the data folder (``last-ingest.json``)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.vectorstore.chroma import LAST_INGEST_FILE

LinkStatus = Literal["fetched", "cached", "dead", "refused", "skipped"]
REPORT_FILE = LAST_INGEST_FILE


class SkippedDoc(BaseModel):
    source: str
    reason: str


class LinkResult(BaseModel):
    url: str
    status: LinkStatus
    reason: str = ""
    parent: str  # the (first) document that links it
    link_text: str = ""
    depth: int = 1
    final_url: str = ""
    also_linked_from: list[str] = Field(default_factory=list)
    kept_previous: bool = False  # the fetch failed, the copy from an earlier run stays in the index
    truncated: bool = False  # the page's text was cut at LINK_MAX_CHARS
    credentials_removed: bool = False  # the link carried a user name/password: dropped, never sent or stored


class IngestReport(BaseModel):
    started: datetime = Field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0
    store: str = ""  # where the index lives: a folder or host:port
    collection: str = ""
    rebuilt: bool = False
    links_followed: bool = False
    documents_new: list[str] = Field(default_factory=list)
    documents_changed: list[str] = Field(default_factory=list)
    documents_removed: list[str] = Field(default_factory=list)
    documents_unchanged: list[str] = Field(default_factory=list)
    documents_repaired: list[str] = Field(default_factory=list)  # completed after an interrupted write
    documents_incomplete: list[str] = Field(default_factory=list)  # half-written and not among this run's inputs
    documents_skipped: list[SkippedDoc] = Field(default_factory=list)
    credentials_removed: list[str] = Field(default_factory=list)  # URL inputs given with user:password@ (cleaned)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    chunks_per_doc: dict[str, int] = Field(default_factory=dict)
    links: list[LinkResult] = Field(default_factory=list)
    embed_seconds: float = 0.0
    interrupted_run_recovered: bool = False

    @property
    def embed_rate(self) -> float:
        """Chunks embedded and written per second of embedding time."""
        return self.chunks_added / self.embed_seconds if self.embed_seconds > 0 else 0.0

    @property
    def documents_seen(self) -> int:
        return (
            len(self.documents_new)
            + len(self.documents_changed)
            + len(self.documents_unchanged)
            + len(self.documents_repaired)
        )

    @property
    def ingested_anything(self) -> bool:
        return self.documents_seen > 0

    @property
    def link_counts(self) -> dict[str, int]:
        counts = Counter(link.status for link in self.links)
        return {status: counts.get(status, 0) for status in ("fetched", "cached", "dead", "refused", "skipped")}

    def broken_links_by_document(self) -> dict[str, list[LinkResult]]:
        """Dead and refused links grouped under each document that links them."""
        out: dict[str, list[LinkResult]] = {}
        for link in self.links:
            if link.status in ("dead", "refused"):
                for parent in [link.parent, *link.also_linked_from]:
                    out.setdefault(parent, []).append(link)
        return out

    def summary(self) -> str:
        changed = len(self.documents_new) + len(self.documents_changed) + len(self.documents_repaired)
        lines = [
            f"documents: {len(self.documents_new)} new, {len(self.documents_changed)} changed, "
            f"{len(self.documents_removed)} removed, {len(self.documents_unchanged)} unchanged, "
            f"{len(self.documents_skipped)} skipped"
            + (f", {len(self.documents_repaired)} completed after an interrupted run" * bool(self.documents_repaired)),
            f"chunks: +{self.chunks_added} -{self.chunks_removed}, {self.chunks_total} in the index"
            f" ({self.collection} at {self.store})",
        ]
        if self.links_followed or self.links:
            c = self.link_counts
            lines.append(
                f"links: {c['fetched']} fetched, {c['cached']} cached, {c['dead']} dead, {c['refused']} refused"
                + (f", {c['skipped']} not checked" if c["skipped"] else "")
            )
        rate = f", embedding {self.embed_rate:.1f} chunks/s ({changed} documents)" if self.chunks_added else ""
        lines.append(f"time: {self.seconds:.1f} s{rate}")
        lines += [f"skipped {s.source}: {s.reason}" for s in self.documents_skipped]
        lines += [
            f"incomplete {source}: an interrupted run stored only part of it; ingest it again to complete it"
            for source in self.documents_incomplete
        ]
        for parent, links in self.broken_links_by_document().items():
            lines.append(f"broken links in {parent}:")
            lines += [
                f"  {link.status} {_shown(link.url)}: {_shown(link.reason)}"
                + (" (earlier copy kept)" if link.kept_previous else "")
                for link in links
            ]
        lines += [
            f"user name and password removed from {_shown(url)} (not sent or stored)"
            for url in self.credentials_removed
        ]
        lines += [
            f"user name and password removed from the link {_shown(link.url)} in {link.parent} (not sent or stored)"
            for link in self.links
            if link.credentials_removed
        ]
        skipped = [link for link in self.links if link.status == "skipped"]
        if skipped:
            reasons = Counter(link.reason for link in skipped)
            lines += [f"{n} links not checked: {reason}" for reason, n in reasons.items()]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        data = self.model_dump(mode="json")
        data["link_counts"] = self.link_counts
        data["embed_chunks_per_s"] = round(self.embed_rate, 2)
        data["broken_links_by_document"] = {
            parent: [link.url for link in links] for parent, links in self.broken_links_by_document().items()
        }
        return data

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / REPORT_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def load_last(cls, folder: Path) -> IngestReport | None:
        try:
            return cls.model_validate_json((folder / REPORT_FILE).read_text())
        except (OSError, ValueError):
            return None


def _shown(text: str, limit: int = 200) -> str:
    """``text`` safe to print on a terminal: control characters escaped, cut at ``limit`` characters."""
    safe = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."
