"""Citation markers: which ``[n]`` an answer uses, and adding one to a sentence that has none."""

from __future__ import annotations

from assistant.text import CITE


def cited_numbers(text: str, available: int) -> list[int]:
    """The source numbers ``text`` cites that exist (1..available), sorted, each once."""
    return sorted({int(n) for n in CITE.findall(text) if 1 <= int(n) <= available})


def with_marker(sentence: str, n: int) -> str:
    """``sentence`` with ``[n]`` placed before its final stop ("A b c [2].")."""
    stripped = sentence.rstrip()
    end = len(stripped) - 1 if stripped[-1:] in ".!?" else len(stripped)
    return f"{stripped[:end]} [{n}]{stripped[end:]}"
