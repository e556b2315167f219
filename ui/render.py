"""Plain-text rendering of results, shared by the CLI and the web app."""

from __future__ import annotations

import re

from assistant.accounting.money import format_usd
from assistant.rag.answer import Answer
from assistant.rag.sanitize import no_images

_TAG = re.compile(r"<[^>\n]{0,200}>")


def safe_markdown(text: str) -> str:
    """Untrusted text made safe for st.markdown: no images (they would fetch URLs), no HTML tags, and no
    LaTeX (a "$" pair would typeset the text between two prices as maths)."""
    text = no_images(text).replace("$", "\\$")
    return _TAG.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), text)


def format_sources(answer: Answer) -> str:
    if answer.declined:
        return ""
    if answer.citations:
        lines = ["Sources:"] + [f"  [{c.n}] {c.source} — {c.heading_path or c.title}" for c in answer.citations]
    else:
        lines = ["Retrieved (not cited by the answer):"] + [
            f"  [{c.n}] {c.source} — {c.heading_path or c.title}" for c in answer.retrieved
        ]
    return "\n".join(lines)


def format_answer_footer(answer: Answer) -> str:
    u = answer.usage
    footer = (
        f"tokens: {u.prompt_tokens} prompt + {u.completion_tokens} completion"
        f" · {format_usd(answer.cost_usd)} · {answer.provider}/{answer.model} · {answer.latency_s:.1f} s"
    )
    if answer.ignored_instructions:
        n = len(answer.ignored_instructions)
        footer += f" · {n} instruction{'s' if n > 1 else ''} aimed at the assistant not followed"
    if answer.left_out:
        n = answer.left_out
        footer += f" · left out {n} sentence{'s' if n > 1 else ''} the sources do not support"
        if answer.unsupported_figures:
            footer += f" (figures not in the sources: {', '.join(answer.unsupported_figures)})"
    if answer.removed_links:
        n = len(answer.removed_links)
        footer += f" · removed {n} image{'s' if n > 1 else ''} or link{'s' if n > 1 else ''} no source contains"
    return footer


def replaces_stream(answer: Answer, shown: str) -> bool:
    """Whether the checked answer differs from the text a stream already showed (and must replace it)."""
    return answer.text.strip() != shown.strip()
