"""Text out of HTML (trafilatura, main content as Markdown with headings) and PDF (pypdf), and links.

Each function returns the text or a ``Unreadable`` with the reason a learner can act on; none raises
on bad input.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

_MD_LINK = re.compile(r"(!?)\[([^\]\n]{0,300})\]\(\s*<?([^\s)>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_BARE = re.compile(r"https?://[^\s<>()\"'\]\[]+")
_NOT_PAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".mp4", ".mp3", ".zip", ".gz", ".css", ".js")


@dataclass(frozen=True)
class Link:
    url: str
    text: str


@dataclass(frozen=True)
class Unreadable:
    reason: str


@dataclass
class Extracted:
    title: str | None
    text: str  # Markdown for HTML (headings kept), plain text otherwise
    links: list[Link]
    pages: list[str] | None = None  # PDF: text per page


def _page_like(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # "http://[::1/": kept, so the crawler reports it as a dead link
        return url.lower().startswith(("http://", "https://"))
    return parts.scheme in ("http", "https") and bool(host) and not parts.path.lower().endswith(_NOT_PAGES)


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def find_links(text: str, base: str | None = None) -> list[Link]:
    """http(s) links in Markdown or plain text, in order, once each; images and media files left out."""
    found: dict[str, Link] = {}

    def add(url: str, label: str) -> None:
        url = url.rstrip(".,;:!?")
        if base:
            try:
                url = urljoin(base, url)
            except ValueError:  # a malformed link on a fetched page is dropped
                return
        url = url.split("#", 1)[0]
        if _page_like(url) and url not in found and url != base:
            found[url] = Link(url, " ".join(label.split())[:200] or url)

    rest = text
    for match in _MD_LINK.finditer(text):
        if not match.group(1):  # "![...](...)" is an image, not a link
            add(match.group(3), match.group(2))
    rest = _MD_LINK.sub(" ", rest)
    for match in _AUTOLINK.finditer(rest):
        add(match.group(1), "")
    rest = _AUTOLINK.sub(" ", rest)
    if base is None:  # bare URLs only in documents the user wrote
        for match in _BARE.finditer(rest):
            add(match.group(0), "")
    return list(found.values())


def strip_links(markdown: str) -> str:
    """Markdown with ``[text](url)`` reduced to ``text`` (URLs are noise for embeddings)."""
    return _MD_LINK.sub(lambda m: "" if m.group(1) else m.group(2), markdown)


def html_text(html: bytes | str, url: str | None = None) -> Extracted | Unreadable:
    import trafilatura  # imported on first use: a Markdown-only ingest never needs it

    try:
        marked = trafilatura.extract(
            html, url=url, output_format="markdown", include_links=True, include_tables=True, favor_recall=True
        )
    except Exception as exc:  # trafilatura/lxml raise assorted errors on malformed input
        return Unreadable(f"unreadable HTML ({type(exc).__name__})")
    if not marked or not marked.strip():
        return Unreadable("no readable text (the HTML is empty or all script and markup)")
    links = find_links(marked, base=url or "http://local.invalid/")
    links = [link for link in links if _host(link.url) != "local.invalid"]
    meta = trafilatura.extract_metadata(html)
    title = meta.title if meta and meta.title else None
    return Extracted(title=title, text=strip_links(marked).strip(), links=links)


def pdf_text(data: bytes) -> Extracted | Unreadable:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PdfStreamError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # corrupt files log warnings per object
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return Unreadable("encrypted PDF (it needs a password; save an unprotected copy)")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata and reader.metadata.title else None
    except (FileNotDecryptedError, NotImplementedError):
        return Unreadable("encrypted PDF (it needs a password; save an unprotected copy)")
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, OSError, IndexError) as exc:
        return Unreadable(f"corrupt PDF ({type(exc).__name__})")
    if not any(p.strip() for p in pages):
        return Unreadable("no extractable text in the PDF (scanned pages? run OCR first)")
    return Extracted(
        title=str(title) if title else None, text="\f".join(pages), links=find_links("\n".join(pages)), pages=pages
    )
