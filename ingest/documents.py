"""Find input files and read them into ``SourceDoc`` records (text plus front-matter metadata)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.roadmap import split_front_matter

SUPPORTED = {".md", ".markdown", ".txt"}
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class SourceDoc:
    source: str  # stable key: path relative to the working directory, or a URL
    doc_id: str
    title: str
    text: str  # body without front matter
    kind: str  # "markdown" | "text"
    content_hash: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skipped:
    source: str
    reason: str


def source_key(path: Path) -> str:
    path = path.resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def first_heading(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def discover(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    files: list[Path] = []
    skipped: list[Skipped] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in SUPPORTED
                and not p.name.startswith(".")
                and p.name.lower() != "readme.md"
            )
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED:
                files.append(path)
            else:
                skipped.append(Skipped(source_key(path), f"unsupported file type '{path.suffix}'"))
        else:
            skipped.append(Skipped(str(path), "path does not exist"))
    return files, skipped


def read_document(path: Path, signature: str) -> SourceDoc | Skipped:
    key = source_key(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Skipped(key, f"unreadable: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        return Skipped(key, f"too large ({len(raw) // 1024 // 1024} MiB > {MAX_FILE_BYTES // 1024 // 1024} MiB)")
    if b"\x00" in raw[:8192]:
        return Skipped(key, "binary content")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Skipped(key, "not UTF-8 text (re-save the file as UTF-8)")
    meta, body = split_front_matter(text)
    if not body.strip():
        return Skipped(key, "empty document")
    digest = hashlib.sha256(raw + signature.encode()).hexdigest()
    return SourceDoc(
        source=key,
        doc_id=str(meta.get("id") or path.stem),
        title=str(meta.get("title") or first_heading(body) or path.stem),
        text=body,
        kind="markdown" if path.suffix.lower() in {".md", ".markdown"} else "text",
        content_hash=digest,
        meta=meta,
    )
