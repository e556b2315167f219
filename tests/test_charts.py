"""Charts for the Progress and Costs pages: the data they plot, and the roadmap map's DOT text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from assistant.accounting.ledger import LedgerRow
from assistant.practice.progress import Attempt, StageMastery
from assistant.roadmap import load_roadmap
from tests.conftest import MINI
from ui.charts import daily_practice, daily_usage, mastery_colour, roadmap_dot, usage_chart

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


def test_the_roadmap_map_links_prerequisites_and_colours_stages_by_mastery():
    roadmap = load_roadmap(MINI)
    maths, deploy = roadmap.stage(2), roadmap.stage(9)
    assert maths and deploy
    mastery = [
        StageMastery(stage=2, id=maths.id, title=maths.title, topics=3, topics_practised=2, items=4, mastery=0.9),
        StageMastery(stage=9, id=deploy.id, title=deploy.title, topics=2, topics_practised=1, items=2, mastery=0.3),
    ]
    dot = roadmap_dot(roadmap, mastery)
    assert f'"{maths.id}" -> "{deploy.id}";' in dot
    assert 'label="2. Maths basics\\n90% of 4 item(s)", fillcolor="#a6d96a"' in dot
    assert 'fillcolor="#f4a582"' in dot and f'fillcolor="{mastery_colour(None)}"' in dot  # unpractised stage 12


def test_a_stage_title_cannot_add_nodes_or_attributes_to_the_map():
    roadmap = load_roadmap(MINI)
    stage = roadmap.stages[0]
    roadmap.stages[0] = stage.model_copy(update={"title": 'x"]; evil [label="pwned'})
    dot = roadmap_dot(roadmap, [])
    node = re.compile(r'^  "[a-z0-9-]+" \[label="[^"]*", fillcolor="#[0-9a-f]{6}"\];$')
    assert sum(bool(node.match(line)) for line in dot.splitlines()) == len(roadmap.stages)
    assert "x']; evil [label='pwned" in dot  # the quotes became plain text inside its own label
