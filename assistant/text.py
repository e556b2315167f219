"""Plain-text helpers shared by every check that compares sentences: splitting, content words, numbers, negation.

Citations, the figures and support checks, the instruction guard, practice-item verification and the eval
metrics all use these, so they agree on what a sentence, a content word and a number are. Deterministic and
dependency-free.

``sentence_spans`` is the one sentence splitter: it returns (start, end) offsets, so a caller can cut
sentences out of a text and keep every separator (newlines, list markers, spacing) of what remains.
"""

from __future__ import annotations

import re

CITATION = re.compile(r"\[\d{1,2}\]")
CITE = re.compile(r"\[(\d{1,2})\]")
# A sentence ends at . ! or ? (closing quotes, brackets and [n] markers stay with it) before whitespace and a
# capital, digit, quote, bracket or markdown marker; a line break always ends one.
_END = re.compile(
    r"(?<=[.!?])[\"')\]]*(?:\s*\[\d{1,2}\])*"
    r"(?=[ \t]+[\"'(\[A-Z0-9*`_$\u20ac\u00a3-]|[ \t]*(?:\n|$))|\n"
)
# The same for hard-wrapped prose: a single line break continues the sentence; a blank line, a list item or
# a heading starts a new one.
_END_WRAPPED = re.compile(
    r"(?<=[.!?])[\"')\]]*(?:\s*\[\d{1,2}\])*"
    r"(?=\s+[\"'(\[A-Z0-9*`_$\u20ac\u00a3-]|\s*$)|\n[ \t]*\n|\n(?=[ \t]*(?:[-*+]\s|\d{1,2}[.)]\s|#))"
)
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|vs|cf|approx|no|fig|mr|dr|st)\.$|^\s*(?:[-*+]\s+)?\d{1,2}\.$", re.I)
_SPACE_BEFORE_STOP = re.compile(r"\s+([.,;:!?])")
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


def words(text: str, *, min_len: int = 3) -> list[str]:
    """Lower-cased words of ``min_len`` or more characters that are not stopwords, in order, as written."""
    return [w for w in _WORD.findall(text.lower().replace("_", " ")) if w not in STOP and len(w) >= min_len]


def content_words(text: str, *, min_len: int = 3) -> list[str]:
    """``words``, stemmed: what comparisons between sentences use."""
    return [stem(w) for w in words(text, min_len=min_len)]


def sentence_spans(text: str, *, wrapped: bool = False) -> list[tuple[int, int]]:
    """(start, end) of each sentence or line of ``text``, without the whitespace between them.

    A sentence keeps the citation markers written right after it; "e.g." and similar abbreviations do not
    end one; blank stretches give no span. Every line break ends a sentence, unless ``wrapped`` (documents
    with hard-wrapped prose), where only blank lines, list items and headings do.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in (_END_WRAPPED if wrapped else _END).finditer(text):
        is_break = "\n" in m.group(0) and not m.group(0).strip()
        end = m.end() if not is_break else m.start()
        if not is_break and _ABBREVIATION.search(text[start : m.start()]):
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        if piece.strip():
            out.append((a + lead, a + len(piece.rstrip())))
    return out


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` as written (list markers and citation markers kept)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def clean_sentence(sentence: str) -> str:
    """A sentence without citation markers, list markers and markdown emphasis, on one line."""
    clean = CITATION.sub("", _LIST_MARKER.sub("", sentence)).replace("**", "").strip(" \t*`#>")
    return _SPACE_BEFORE_STOP.sub(r"\1", " ".join(clean.split()))


def sentences(text: str) -> list[str]:
    """Sentences and list items of ``text``, citation markers and list markers removed, blanks dropped."""
    return [c for c in (clean_sentence(s) for s in split_sentences(text)) if c]


def without_citations(text: str) -> str:
    return CITATION.sub("", text)


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


# --- credentials in URLs ------------------------------------------------------------------------
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/?#]*@", re.IGNORECASE)


def strip_credentials(text: str) -> str:
    """``text`` with the user name and password taken out of every URL in it (``http://u:pw@host`` -> ``http://host``)."""
    return _USERINFO.sub(r"\1", text)
