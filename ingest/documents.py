"""Inputs as ``SourceDoc`` records: files (Markdown, text, HTML, PDF) and fetched web pages.

Bad input never raises: it becomes a ``Skipped`` with a reason for the report.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from assistant.roadmap import FrontMatterError, read_front_matter
from ingest.crawl import Fetched
from ingest.extract import Extracted, Link, Unreadable, find_links, html_text, pdf_text
from ingest.netguard import strip_credentials

MARKDOWN = {".md", ".markdown"}
SUPPORTED = MARKDOWN | {".txt", ".html", ".htm", ".pdf"}


@dataclass
class SourceDoc:
    source: str  # stable key: path relative to the working directory, or the URL as linked
    doc_id: str
    title: str
    text: str  # body without front matter (Markdown for HTML; pages joined by form feeds for PDF)
    kind: str  # "markdown" | "text" | "pdf"
    content_hash: str
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str = "file"  # "file" | "url" (given on the command line) | "link" (found in a document)
    url: str = ""  # final URL after redirects, for web pages
    parent: str = ""  # the document that links this page
    link_text: str = ""
    links: list[Link] = field(default_factory=list)
    truncated: bool = False


@dataclass
class Skipped:
    source: str
    reason: str


def source_key(path: Path) -> str:
    path = path.parent.resolve() / path.name if path.is_symlink() else path.resolve()  # a link, not its target
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def first_heading(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _wanted(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED and not path.name.startswith(".") and path.name.lower() != "readme.md"


def discover(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Supported files under ``paths``; missing paths and unsupported or broken files as ``Skipped``."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for path in paths:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if not _wanted(p) or any(part.startswith(".") for part in p.relative_to(path).parts):
                    continue
                if p.is_file():
                    files.append(p)
                elif p.is_symlink():
                    skipped.append(Skipped(source_key(p), "unreadable: broken symbolic link"))
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED:
                files.append(path)
            else:
                skipped.append(Skipped(source_key(path), f"unsupported file type '{path.suffix or path.name}'"))
        elif path.is_symlink():
            skipped.append(Skipped(source_key(path), "unreadable: broken symbolic link"))
        elif str(path).lower().startswith("file:"):  # Path("file:///a/b") reads "file:/a/b"
            hint = f"give the path instead ({str(path)[5:]})"
            skipped.append(Skipped(str(path), f"file:// URLs are not accepted: {hint}"))
        else:
            skipped.append(Skipped(str(path), "path does not exist"))
    return files, skipped


def _digest(data: bytes, signature: str) -> str:
    return hashlib.sha256(data + b"\x00" + signature.encode()).hexdigest()


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its byte order mark starts with that one
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# A run this long without a space (base64 data, a minified blob) holds nothing to retrieve and would fill
# thousands of chunks. The look-behind keeps the search linear.
_LONG_RUN = re.compile(r"(?<!\S)\S{2000,}")


def decode_text(raw: bytes) -> str | Unreadable:
    """UTF-8, or UTF-16/32 with a byte order mark; NUL anywhere means binary content."""
    codec = next((name for bom, name in _BOMS if raw.startswith(bom)), "utf-8-sig")
    if codec == "utf-8-sig" and b"\x00" in raw:
        return Unreadable("binary content")
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return Unreadable(f"not {codec.removesuffix('-sig').upper()} text (re-save the file as UTF-8)")
    return Unreadable("binary content") if "\x00" in text else text


def read_document(path: Path, signature: str, max_bytes: int) -> SourceDoc | Skipped:
    key = source_key(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped(key, f"too large ({_mib(size)} > {_mib(max_bytes)}; raise INGEST_MAX_FILE_MB)")
        raw = path.read_bytes()
    except OSError as exc:
        return Skipped(key, f"unreadable: {exc.strerror or exc}")
    if not raw.strip():
        return Skipped(key, "empty document")
    suffix = path.suffix.lower()
    digest = _digest(raw, signature)
    if suffix == ".pdf":
        return _from_extracted(key, pdf_text(raw), digest, stem=path.stem)
    if suffix in (".html", ".htm"):
        return _from_extracted(key, html_text(raw), digest, stem=path.stem)
    text = decode_text(raw)
    if isinstance(text, Unreadable):
        return Skipped(key, text.reason)
    try:
        meta, body = read_front_matter(text)
    except FrontMatterError as exc:
        return Skipped(key, str(exc))
    if not body.strip():
        return Skipped(key, "empty document")
    if _LONG_RUN.search(body):
        if not _LONG_RUN.sub("", body).strip():
            return Skipped(key, "no readable text (only runs of 2,000+ characters without a space: data, not prose)")
        body = _LONG_RUN.sub("…", body)
    return SourceDoc(
        source=key,
        doc_id=_scalar(meta.get("id")) or path.stem,
        title=_scalar(meta.get("title")) or first_heading(body) or path.stem,
        text=strip_credentials(body),  # a password in a link is never stored, retrieved or sent to a model
        kind="markdown" if suffix in MARKDOWN else "text",
        content_hash=digest,
        meta=_clean_meta(meta),
        links=find_links(body),
    )


def _scalar(value: object) -> str | None:
    """A front-matter value as one line of text; lists, mappings, booleans and empty values are not text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | date):
        return None
    return " ".join(str(value).split())[:300] or None


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Front matter with the fields chunks are labelled with (stage, topics, tags) in a usable shape; a field
    of the wrong shape is dropped, a single topic or tag becomes a list of one."""
    clean = dict(meta)
    stage = meta.get("stage")
    if isinstance(stage, str) and stage.strip().isascii() and stage.strip().isdigit():
        stage = int(stage)
    if isinstance(stage, int) and not isinstance(stage, bool) and 0 <= stage < 1000:
        clean["stage"] = stage
    else:
        clean.pop("stage", None)
    for name in ("topics", "tags", "prerequisites"):
        value = meta.get(name)
        items = value if isinstance(value, list) else [value]
        texts = [t for t in map(_scalar, items) if t]
        if texts and value is not None:
            clean[name] = texts
        else:
            clean.pop(name, None)
    return clean


def _from_extracted(
    key: str, got: Extracted | Unreadable, digest: str, *, stem: str, max_chars: int | None = None
) -> SourceDoc | Skipped:
    if isinstance(got, Unreadable):
        return Skipped(key, got.reason)
    text, truncated = got.text, False
    if max_chars is not None and len(text) > max_chars:
        text, truncated = text[:max_chars], True
    return SourceDoc(
        source=key,
        doc_id=stem,
        title=got.title or first_heading(text) or stem,
        text=strip_credentials(text),
        kind="pdf" if got.pages is not None else "markdown",
        content_hash=digest,
        links=got.links,
        truncated=truncated,
    )


def page_document(
    page: Fetched, signature: str, *, origin: str, parent: str = "", link_text: str = "", max_chars: int
) -> SourceDoc | Skipped:
    """A fetched page as a document; ``source`` is the URL as linked, ``url`` where it ended up."""
    doc_id = "web-" + hashlib.sha1(page.url.encode()).hexdigest()[:10]
    got: Extracted | Unreadable
    if page.content_type == "application/pdf":
        got = pdf_text(page.body)
    elif page.content_type in ("text/html", "application/xhtml+xml"):
        got = html_text(page.body, page.final_url or page.url)
    else:
        text = decode_text(page.body)
        got = (
            text
            if isinstance(text, Unreadable)
            else Extracted(first_heading(text), text, find_links(text, base=page.final_url or page.url))
        )
        if isinstance(got, Extracted) and not got.text.strip():
            got = Unreadable("empty page")
    doc = _from_extracted(page.url, got, "", stem=doc_id, max_chars=max_chars)
    if isinstance(doc, SourceDoc):
        # hashed: the extracted text (not the bytes: changing ads or timestamps are no change) and where the
        # page is linked from, so the stored parent and link text stay true
        doc.content_hash = _digest(f"{parent}\n{link_text}\n{doc.title}\n{doc.text}".encode(), signature)
        doc.doc_id, doc.origin, doc.url = doc_id, origin, page.final_url or page.url
        doc.parent, doc.link_text = parent, link_text
        if page.content_type in ("text/plain",):
            doc.kind = "text"
    return doc


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"
