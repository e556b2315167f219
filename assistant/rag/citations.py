"""Citations: the ones the model wrote, plus deterministic attribution for sentences it left bare.

Small local models often answer correctly from the sources but forget the ``[n]`` markers. For
every sentence without a marker we find the source whose words it shares most; when that source
covers enough of the sentence's content words, the marker is added. A sentence no source
supports stays uncited rather than getting a guessed citation.
"""

from __future__ import annotations

import re

CITE = re.compile(r"\[(\d{1,2})\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.-]*[a-z0-9+#]|[a-z0-9]")
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "you",
        "your",
        "we",
        "our",
        "they",
        "their",
        "he",
        "she",
        "his",
        "her",
        "them",
        "can",
        "could",
        "should",
        "would",
        "will",
        "may",
        "might",
        "do",
        "does",
        "did",
        "not",
        "no",
        "so",
        "than",
        "then",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "also",
        "such",
        "into",
        "over",
        "about",
        "more",
        "most",
        "many",
        "much",
        "very",
        "just",
        "only",
        "other",
        "some",
        "any",
        "each",
        "both",
        "all",
        "one",
        "two",
        "use",
        "used",
        "using",
        "like",
    ]
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP and len(w) > 2}


def cited_numbers(text: str, available: int) -> list[int]:
    found = {int(m.group(1)) for m in CITE.finditer(text)}
    return sorted(n for n in found if 1 <= n <= available)


def attribute(text: str, sources: list[str], min_coverage: float = 0.5) -> str:
    """Add ``[n]`` to each uncited sentence whose content words source ``n`` covers best."""
    vocab = [content_words(s) for s in sources]
    out = []
    for sentence in _SENTENCE.split(text.strip()):
        words = content_words(CITE.sub("", sentence))
        if CITE.search(sentence) or len(words) < 3:
            out.append(sentence)
            continue
        scores = [len(words & v) / len(words) for v in vocab]
        best = max(range(len(scores)), key=scores.__getitem__, default=-1)
        if best >= 0 and scores[best] >= min_coverage:
            stripped = sentence.rstrip()
            end = len(stripped) - 1 if stripped and stripped[-1] in ".!?" else len(stripped)
            sentence = f"{stripped[:end]} [{best + 1}]{stripped[end:]}"
        out.append(sentence)
    return " ".join(out)
