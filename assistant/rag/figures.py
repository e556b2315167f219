"""Find figures in an answer that none of its sources states.

Small models invent precise-looking numbers (a prize pool, a pass mark, a year) when the roadmap has none.
A figure is a number of two or more digits, or any number with a currency sign, a percent sign or a
magnitude word ("$1 million", "5%", "3 billion"). Single bare digits are skipped: list markers and counts
("3 steps") are common and sources often spell them out; so are numbers inside identifiers, paths and code
("MLS-C01", "08-mlops", "batch_size=32"). A figure is supported when the same number, with the same
magnitude word if it has one, appears in a source or in the question.

When an answer still states such figures after the one retry, ``without_figures`` leaves out the
sentences that state them; the answer service declines when nothing cited is left.
"""

from __future__ import annotations

import re

from assistant.rag.citations import CITE

_FIGURE = re.compile(
    r"(?P<cur>[$€£])?\s?(?<![\w./=@:-])(?P<num>\d(?:[\d,]*\d)?(?:\.\d+)?)(?![\w/-]|\.\w)"
    r"(?:\s?(?P<pct>%|percent\b)|\s?(?P<mag>thousand|million|billion|trillion)\b)?",
    re.IGNORECASE,
)
_ANY_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# A sentence ends at . ! or ?, with any [n] markers right after it, before the next capital, digit or quote.
_BOUNDARY = re.compile(r"(?<=[.!?])((?:\s*\[\d{1,2}\])*)\s+(?=[A-Z0-9(\"'$€£*_\[])")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|vs|cf|approx|no|fig)\.$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^(\s*(?:[-*+]|\d+[.)])\s+)")


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


def _sentences(text: str) -> list[str]:
    """``text`` cut into sentences, each keeping the [n] markers written right after it."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if _ABBREVIATION.search(text[start : m.start()]):
            continue
        out.append(text[start : m.start() + len(m.group(1))].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def without_figures(answer: str, figures: list[str]) -> tuple[str, int]:
    """``answer`` without the sentences that state any of ``figures``, and how many were left out.

    Lines keep their list markers (an item left empty goes whole), code blocks are kept as they are,
    and the blank lines a removal leaves are collapsed.
    """
    unwanted = set(figures)
    lines: list[str] = []
    left_out = 0
    in_code = False
    for line in answer.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if in_code or line.lstrip().startswith("```") or not line.strip():
            lines.append(line)
            continue
        marker = _LIST_ITEM.match(line)
        prefix = marker.group(1) if marker else ""
        kept = []
        for sentence in _sentences(line[len(prefix) :]):
            if any(written in unwanted for written, _, _ in _figures(sentence)):
                left_out += 1
            else:
                kept.append(sentence)
        if kept:
            lines.append(prefix + " ".join(kept))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip(), left_out
