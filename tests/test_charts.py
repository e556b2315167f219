"""Charts for the Progress and Costs pages: the data they plot, and the roadmap map's DOT text."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.accounting.ledger import LedgerRow
from assistant.practice.progress import Attempt, StageMastery
from assistant.roadmap import load_roadmap
from tests.conftest import MINI, REPO
from ui.charts import (
    MAP_SELECTION,
    daily_practice,
    daily_usage,
    direct_prerequisites,
    mastery_colour,
    roadmap_chart,
    stage_layout,
    usage_chart,
)

DAY1, DAY2 = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 2, 23, tzinfo=UTC)


def attempt(i: int, when: datetime, score: float) -> Attempt:
    return Attempt(
        id=i, learner_id="me", item_id=f"q{i}", kind="quiz", question_type="mcq", topic="calculus", stage=2,
        question="?", response="A", correct=score == 1, score=score, seconds=None, answered_at=when,
    )  # fmt: skip


def test_practice_per_day_counts_answers_and_averages_scores():
    rows = daily_practice([attempt(1, DAY1, 1.0), attempt(2, DAY1, 0.0), attempt(3, DAY2, 0.5)])
    assert rows == [
        {"day": "2026-12-01", "answers": 2, "mean_score": 0.5},
        {"day": "2026-12-02", "answers": 1, "mean_score": 0.5},
    ]


def test_usage_per_day_and_feature_sums_tokens_and_cost():
    def row(ts: datetime, feature: str, tokens: int, cost: float) -> LedgerRow:
        return LedgerRow(
            ts=ts, learner_id="me", session_id="s", feature=feature, provider="openai", model="m",  # type: ignore[arg-type]
            prompt_tokens=tokens, completion_tokens=10, cost_usd=cost,
        )  # fmt: skip

    rows = [
        row(DAY1, "chat", 100, 0.01),
        row(DAY1, "chat", 50, 0.02),
        row(DAY1, "quiz", 5, 0.0),
        row(DAY2, "chat", 1, 0),
    ]
    assert daily_usage(rows) == [
        {"day": "2026-12-01", "feature": "chat", "tokens": 170, "cost_usd": 0.03},
        {"day": "2026-12-01", "feature": "quiz", "tokens": 15, "cost_usd": 0.0},
        {"day": "2026-12-02", "feature": "chat", "tokens": 11, "cost_usd": 0.0},
    ]
    spec = usage_chart(rows, "cost_usd").to_dict()
    assert spec["encoding"]["y"]["title"] == "cost (USD)" and spec["encoding"]["color"]["field"] == "feature"


def test_the_roadmap_map_puts_prerequisites_above_and_colours_stages_by_mastery():
    roadmap = load_roadmap(MINI)
    maths, deploy = roadmap.stage(2), roadmap.stage(9)
    assert maths and deploy
    layout = stage_layout(roadmap)
    for s in roadmap.stages:  # every line runs down the map, from a prerequisite to the stage needing it
        assert all(layout[p][0] < layout[s.id][0] for p in s.prerequisites if p in layout)
    assert len(set(layout.values())) == len(roadmap.stages)  # no two boxes on one spot
    mastery = [
        StageMastery(stage=2, id=maths.id, title=maths.title, topics=3, topics_practised=2, items=4, mastery=0.9),
        StageMastery(stage=9, id=deploy.id, title=deploy.title, topics=2, topics_practised=1, items=2, mastery=0.3),
    ]
    spec = roadmap_chart(roadmap, mastery).to_dict()
    lines, boxes, _ = spec["layer"]
    nodes = {n["stage"]: n for n in boxes["data"]["values"]}
    assert nodes[2]["colour"] == "#a6d96a" and nodes[2]["mastery"] == "90% of 4 item(s)"
    assert nodes[9]["colour"] == "#f4a582"
    assert all(n["colour"] == mastery_colour(None) for k, n in nodes.items() if k not in (2, 9))
    edge = {"x": layout[maths.id][1], "y": layout[maths.id][0], "x2": layout[deploy.id][1], "y2": layout[deploy.id][0]}
    direct = direct_prerequisites(roadmap)
    assert (maths.id in direct[deploy.id]) == (edge in lines["data"]["values"])
    assert len(lines["data"]["values"]) == sum(len(ps) for ps in direct.values())
    pick = spec["params"][0]
    assert pick["name"] == MAP_SELECTION and pick["select"]["fields"] == ["stage"] and pick["views"] == [boxes["name"]]


def test_the_map_draws_only_direct_prerequisites():
    roadmap = load_roadmap(REPO / "knowledge")
    direct = direct_prerequisites(roadmap)
    deep = roadmap.stage(6)
    assert deep and "programming" in deep.prerequisites
    assert direct[deep.id] == ["classic-ml"]  # programming goes without saying: classic ML needs it already
