"""Find code names in an answer that none of its sources gives.

Small models invent plausible APIs: asked about the population stability index, the 1.5B model answered with a
``pysal.lib.weights`` function that does not exist, and the sentence check passed it (its other words matched a
source). A study assistant must not teach an API the roadmap does not name. A code name is an identifier that
can only be code: a dotted name (``sklearn.model_selection``, ``model.eval``), a snake_case name
(``random_state``), a call (``fit(``), or a one-word span in backticks (``RobustScaler``). Prose, URLs, and
abbreviations like "e.g." are not names. A name is supported when a source or the question contains it
(case-insensitive), or, for a dotted name, when its first part is a package a source names as a word or one of
the roadmap's own stack (``sklearn.model_selection`` is a fair reference; ``pysal.lib.weights``, from a package
no source names, is not).

The answer service leaves out the sentences that state unsupported names (``stated_names`` says which a
sentence states), as it does for invented figures.
"""

from __future__ import annotations

import re

from assistant.text import CITE

_URL = re.compile(r"https?://\S+|www\.\S+")
_TICKED = re.compile(r"`([A-Za-z_][\w.]*(?:\(\))?)`")
_NAME = re.compile(r"(?<![\w./@-])(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Za-z]\w*_\w+|_\w+|[A-Za-z_]\w*(?=\())(?![\w-])")
_ABBREVIATION = re.compile(r"^(?:[a-z]\.)+[a-z]?$", re.IGNORECASE)  # e.g, i.e, U.S
MIN_CHARS = 3
# The roadmap's own stack, by import name: a path inside one of these packages is a fair reference even where the
# evidence names the package in prose ("scikit-learn") or not at all.
KNOWN_PACKAGES = frozenset(
    {"sklearn", "torch", "numpy", "np", "pandas", "pd", "scipy", "tensorflow", "tf", "keras", "transformers"}
)


def _names(text: str) -> list[str]:
    """Every code name ``text`` states, as written, in order, each once."""
    text = _URL.sub(" ", CITE.sub(" ", text))
    found = [m.group(1).removesuffix("()") for m in _TICKED.finditer(text)]
    found += [m.group(0) for m in _NAME.finditer(text)]
    return [
        name.rstrip(".")
        for name in dict.fromkeys(found)
        if len(name) >= MIN_CHARS and not _ABBREVIATION.match(name.rstrip("."))
    ]


def _supported(name: str, haystack: str, words: set[str]) -> bool:
    lowered = name.lower()
    if lowered in haystack:
        return True
    head = lowered.split(".", 1)[0]
    return "." in lowered and (head in words or head in KNOWN_PACKAGES)


def unsupported_names(answer: str, sources: list[str]) -> list[str]:
    """Code names in ``answer`` that no source gives, as written in the answer (deduplicated, in order)."""
    haystack = "\n".join(sources).lower()
    words = set(re.findall(r"[a-z_][a-z0-9_]*", haystack))
    return [name for name in _names(answer) if not _supported(name, haystack, words)]


def stated_names(text: str) -> set[str]:
    """The code names a text states, as written (what ``unsupported_names`` reports)."""
    return set(_names(text))
