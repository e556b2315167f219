"""The drafting loop shared by quizzes, interview sets and flashcard decks."""

from __future__ import annotations

import pytest

from assistant.errors import StructuredOutputError, TutorError
from assistant.practice.drafting import DraftingLoop


def test_drafts_until_n_pass_and_counts_every_drop_reason() -> None:
    outcomes: list[str | StructuredOutputError] = ["ok", "duplicate", "bad", "ok", "duplicate", "ok", "ok"]

    def draft_one(i: int) -> str | int:
        made = outcomes[i]
        if isinstance(made, Exception):
            raise made
        return i if made == "ok" else made

    outcomes[2] = StructuredOutputError("no JSON object in the output")
    loop: DraftingLoop[int] = DraftingLoop(3, 10)
    loop.run(draft_one)  # type: ignore[arg-type]
    assert loop.items == [0, 3, 5]
    assert loop.reasons == {"duplicate": 2, "unusable-output": 1}
    report = loop.report()
    assert (report["requested"], report["generated"], report["dropped"]) == (3, 6, 3)
    assert not loop.exhausted and loop.note == ""


def test_stops_at_the_budget_and_reports_why_nothing_passed() -> None:
    calls: list[int] = []

    def draft_one(i: int) -> str:
        calls.append(i)
        return "gives-it-away"

    loop: DraftingLoop[int] = DraftingLoop(2, 5)
    loop.run(draft_one)
    assert calls == [0, 1, 2, 3, 4]
    with pytest.raises(
        TutorError, match=r"No flashcard on 'x' passed the checks \(5 drafted; dropped: gives-it-away 5\)"
    ):
        loop.require_items("flashcard on 'x'", "try another topic.", verb="passed the checks")


def test_material_running_out_stops_early_and_is_said() -> None:
    loop: DraftingLoop[int] = DraftingLoop(5, 20)
    loop.run(lambda i: i if i < 2 else None)
    assert loop.items == [0, 1] and loop.drafted == 2 and loop.exhausted
    loop.require_items("question", "hint")  # some passed: no error


def test_cost_limit_stops_before_the_next_draft() -> None:
    loop: DraftingLoop[int] = DraftingLoop(5, 20, max_cost=0.025)

    def draft_one(i: int) -> str:
        loop.meter.usage.cost_usd += 0.01  # what one model call through the meter adds
        return "duplicate"

    loop.run(draft_one)
    assert loop.drafted == 3 and loop.note == "Stopped at --max-cost $0.0250."


def test_progress_is_told_before_each_draft_and_at_the_end() -> None:
    seen: list[tuple[str, int, int]] = []
    loop: DraftingLoop[int] = DraftingLoop(2, 4, progress=lambda *a: seen.append(a))
    loop.run(lambda i: i)
    assert seen == [("generate", 0, 2), ("generate", 1, 2), ("generate", 2, 2)]
