"""Plain-text rendering of results, shared by the CLI and the web app."""

from __future__ import annotations

import re

from assistant.accounting.money import format_usd
from assistant.rag.answer import Answer
from assistant.rag.key_points import split_key_points as split_points
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


CONTINUE_HINT = "Type `more` to continue it."


def format_answer_footer(answer: Answer) -> str:
    u = answer.usage
    if answer.usage_estimated:  # the server sent no usage: our count, with a tokenizer that may not be its model's
        footer = (
            f"tokens: ~{u.prompt_tokens} prompt + ~{u.completion_tokens} completion (estimated: the server reported"
            f" no usage) · ~{format_usd(answer.cost_usd)}"
        )
    else:
        footer = f"tokens: {u.prompt_tokens} prompt + {u.completion_tokens} completion · {format_usd(answer.cost_usd)}"
    footer += f" · {answer.provider}/{answer.model} · {answer.latency_s:.1f} s"
    if answer.cut:
        footer += f" · cut at MAX_ANSWER_TOKENS={answer.max_tokens}"
    if answer.ignored_instructions:
        n = len(answer.ignored_instructions)
        footer += f" · {n} instruction{'s' if n > 1 else ''} aimed at the assistant not followed"
    if answer.left_out:
        n = answer.left_out
        footer += f" · left out {n} sentence{'s' if n > 1 else ''} the sources do not support"
        if answer.unsupported_figures:
            footer += f" (figures not in the sources: {', '.join(answer.unsupported_figures)})"
        if answer.unsupported_names:
            footer += f" (names not in the sources: {', '.join(answer.unsupported_names)})"
    if answer.removed_links:
        n = len(answer.removed_links)
        footer += f" · removed {n} image{'s' if n > 1 else ''} or link{'s' if n > 1 else ''} no source contains"
    return footer


def format_cut_notice(answer: Answer, *, can_continue: bool = False) -> str:
    """The line under a cut answer ("" for a complete one): where it stopped, what was left out, what to do."""
    if not answer.cut:
        return ""
    notice = (
        f"… (cut at MAX_ANSWER_TOKENS={answer.max_tokens}: ask a narrower question or raise MAX_ANSWER_TOKENS"
        + ("; its unfinished last sentence is left out" if answer.unfinished else "")
        + ")"
    )
    if can_continue and answer.can_continue:
        notice += f" {CONTINUE_HINT}"
    return notice


def format_interrupted(error: BaseException) -> str:
    """The line after the partial text of a stream that broke off: the text above is incomplete and unchecked."""
    reason = getattr(error, "message", None) or str(error) or type(error).__name__
    return f"[answer interrupted: {reason.rstrip('.')}; the text above is incomplete and unchecked]"


def split_key_points(answer: Answer) -> tuple[str, str]:
    """The checked answer's own text, and the block of quoted key points after it ("" when none)."""
    return split_points(answer.text) if answer.key_points else (answer.text, "")


def replaces_stream(answer: Answer, shown: str) -> bool:
    """Whether the checked answer differs from the text a stream already showed (and must replace it); the
    key points after it are added below the stream, not a change to it."""
    return split_key_points(answer)[0].strip() != shown.strip()


def highlighted_passage(passage: str, supporting: list[str]) -> str:
    """A source passage as safe Markdown, with the sentences that support the answer in bold."""
    marks: list[tuple[int, int]] = []
    for sentence in supporting:
        for part in re.split(r"(?<=[.!?])\s+", sentence.strip()):  # evidence may be two sentences joined
            at = passage.find(part) if len(part) > 3 else -1
            if at >= 0:
                marks.append((at, at + len(part)))
    out, cursor = [], 0
    for start, end in sorted(marks):
        if start < cursor:
            continue
        out += [safe_markdown(passage[cursor:start]), f"**{safe_markdown(passage[start:end]).strip()}**"]
        cursor = end
    out.append(safe_markdown(passage[cursor:]))
    return "".join(out)


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>#+!|~$:-])")


def plain_label(text: str) -> str:
    """Untrusted text for a widget label (expander, radio option): Streamlit renders Markdown there, images
    and links included, so every Markdown character is escaped and the text shows as written."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(text.split()))
