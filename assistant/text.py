"""Plain-text helpers shared by checks that compare sentences: splitting, content words, numbers, negation.

Deterministic and dependency-free, so the answer checks and the eval metrics agree on what a sentence, a
content word and a number are.
"""

from __future__ import annotations

import re

CITATION = re.compile(r"\[\d{1,2}\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9*`_-])|\n+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,2}[.)])\s+")
_WORD = re.compile(r"[a-z0-9]+(?:['][a-z0-9]+)*")
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])")
_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nor|cannot|without|avoid|avoids|avoiding|instead|rather than|neither)\b|n't\b",
    re.IGNORECASE,
)
_STOP_WORDS = (
    "the a an and or but if of to in on for with at by from as is are was were be been being it its this that "
    "these those you your yours we our they their them he she his her i me my can could should would will may "
    "might must do does did done have has had not no so than then there here what which who whom how why when "
    "where also just only more most less very much many such into over under about after before between each "
    "any all some both other use used using like get make one two first s t"
)
STOP = frozenset(_STOP_WORDS.split())


def stem(word: str) -> str:
    """A light suffix stripper: enough to match "splits"/"split", "scaling"/"scaled"/"scale"."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, stemmed words of three or more letters that are not stopwords, in order."""
    return [stem(w) for w in _WORD.findall(text.lower().replace("_", " ")) if w not in STOP and len(w) > 2]


def sentences(text: str) -> list[str]:
    """Sentences and list items of ``text``, citation markers and list markers removed, blanks dropped."""
    out = []
    for part in _SENTENCE_END.split(text):
        clean = CITATION.sub("", _LIST_MARKER.sub("", part)).strip(" \t*`#>")
        if clean:
            out.append(" ".join(clean.split()))
    return out


def numbers(text: str) -> set[str]:
    """The numbers a text states, normalised ("4,096" -> "4096", "0.50" -> "0.5")."""
    found = set()
    for raw in _NUMBER.findall(CITATION.sub(" ", text)):
        value = raw.replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        found.add(value)
    return found


def negated(text: str) -> bool:
    """Whether the text carries a negation cue (an odd number of them: "not ... never" cancels out)."""
    return len(_NEGATION.findall(text)) % 2 == 1
