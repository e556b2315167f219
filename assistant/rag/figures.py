"""Find figures in an answer that none of its sources states.

Small models invent precise-looking numbers (a prize pool, a pass mark, a year) when the roadmap has none.
A figure is a number of two or more digits, or any number with a currency sign, a percent sign or a
magnitude word ("$1 million", "5%", "3 billion"). Single bare digits are skipped: list markers and counts
("3 steps") are common and sources often spell them out; so are numbers inside identifiers, paths and code
("MLS-C01", "08-mlops", "batch_size=32"). A figure is supported when the same number, with the same
magnitude word if it has one, appears in a source or in the question.

When an answer still states such figures after the one retry, the answer service leaves out the sentences
that state them (``stated_figures`` names what a sentence states).
"""

from __future__ import annotations

import re

from assistant.text import CITE

_FIGURE = re.compile(
    r"(?P<cur>[$€£])?\s?(?<![\w./=@:-])(?P<num>\d(?:[\d,]*\d)?(?:\.\d+)?)(?![\w/-]|\.\w)"
    r"(?:\s?(?P<pct>%|percent\b)|\s?(?P<mag>thousand|million|billion|trillion)\b)?",
    re.IGNORECASE,
)
_ANY_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _number(raw: str) -> str:
    return raw.replace(",", "")


def _figures(text: str) -> list[tuple[str, str, str]]:
    """(as written, number, magnitude word) for every figure worth checking."""
    found = []
    for m in _FIGURE.finditer(CITE.sub(" ", text)):
        num = _number(m["num"])
        mag = (m["mag"] or "").lower()
        marked = bool(m["cur"] or m["pct"] or mag)
        if len(num.replace(".", "")) < 2 and not marked:
            continue
        found.append((m.group(0).strip(), num, mag))
    return found


def unsupported_figures(answer: str, sources: list[str]) -> list[str]:
    """Figures in ``answer`` that no source states, as written in the answer (deduplicated, in order)."""
    stated = {(num, mag) for s in sources for _, num, mag in _figures(s)}
    stated_numbers = {_number(n) for s in sources for n in _ANY_NUMBER.findall(s)}
    out: list[str] = []
    for written, num, mag in _figures(answer):
        ok = (num, mag) in stated if mag else num in stated_numbers
        if not ok and written not in out:
            out.append(written)
    return out


def stated_figures(text: str) -> set[str]:
    """The figures a text states, as written (what ``unsupported_figures`` reports)."""
    return {written for written, _, _ in _figures(text)}
