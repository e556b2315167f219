"""The one drafting loop behind quizzes, interview sets and flashcard decks.

Each service says how to make one item (``draft_one``: the item, the reason it was dropped, or None when the
material has run out); the loop owns what they share: the draft budget, the ``--max-cost`` stop, progress,
counting drop reasons (unparseable model output included), the usage meter, and the one-line error when
nothing passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from assistant.callbacks import Progress
from assistant.errors import StructuredOutputError, TutorError
from assistant.practice.structured import Meter

T = TypeVar("T")


class DraftingLoop(Generic[T]):
    """Draft until ``n`` items pass, ``budget`` drafts are made, the material runs out, or the cost limit."""

    def __init__(self, n: int, budget: int, *, progress: Progress | None = None, max_cost: float | None = None) -> None:
        self.n = n
        self.budget = budget
        self.progress = progress
        self.max_cost = max_cost
        self.meter = Meter()  # pass it to every model call a draft makes
        self.items: list[T] = []
        self.reasons: Counter[str] = Counter()
        self.drafted = 0
        self.exhausted = False  # the material ran out before n items passed
        self.note = ""

    def run(self, draft_one: Callable[[int], T | str | None]) -> DraftingLoop[T]:
        while len(self.items) < self.n and self.drafted < self.budget:
            if self.max_cost is not None and self.meter.usage.cost_usd >= self.max_cost:
                self.note = f"Stopped at --max-cost ${self.max_cost:.4f}."
                break
            self._tell()
            try:
                result = draft_one(self.drafted)
            except StructuredOutputError:
                result = "unusable-output"
            if result is None:
                self.exhausted = True
                break
            self.drafted += 1
            if isinstance(result, str):
                self.reasons[result] += 1
            else:
                self.items.append(result)
        self._tell()
        return self

    def _tell(self) -> None:
        if self.progress:
            self.progress("generate", len(self.items), self.n)

    def require_items(self, what: str, hint: str, *, verb: str = "passed verification") -> None:
        """A TutorError naming every drop reason when nothing passed, e.g. "No flashcard on 'x' passed ..."."""
        if self.items:
            return
        why = ", ".join(f"{k} {v}" for k, v in self.reasons.most_common()) or "no drafts"
        raise TutorError(f"No {what} {verb} ({self.drafted} drafted; dropped: {why}).", hint)

    def report(self) -> dict[str, Any]:
        """The fields every drafted set shares (``models.Drafted``), the note left for the caller to finish."""
        return {
            "requested": self.n,
            "generated": self.drafted,
            "dropped": self.drafted - len(self.items),
            "drop_reasons": dict(self.reasons),
            "usage": self.meter.finish(),
        }
