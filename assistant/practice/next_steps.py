"""What to study next: due reviews, the weakest topics (and what they build on), then the next new topic.

Reads the roadmap's prerequisites (stage ids or topic ids in each stage's front matter) and the
learner's mastery per topic. A prerequisite counts as ready when it was practised with mastery at or
above ``READY``; a stage prerequisite when at least half of its topics are.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from assistant.practice.progress import TopicMastery
from assistant.practice.schedule import WEAK_SCORE
from assistant.roadmap import Roadmap, Stage

READY = WEAK_SCORE


class NextStep(BaseModel):
    kind: Literal["review", "prerequisite", "strengthen", "next"]
    topic: str
    title: str
    stage: int
    source: str  # the roadmap file to read
    reason: str


class _Planner:
    def __init__(self, roadmap: Roadmap, mastery: list[TopicMastery]) -> None:
        self.roadmap = roadmap
        self.score = {m.topic: m.mastery for m in mastery}
        self.owner = roadmap.topic_owner()

    def ready(self, ref: str) -> bool:
        stage = self.roadmap.stage(ref)
        if stage is not None:
            good = sum(self.score.get(t, 0.0) >= READY for t in stage.topics)
            return good * 2 >= len(stage.topics)
        return self.score.get(ref, 0.0) >= READY

    def missing_prerequisites(self, stage: Stage) -> list[str]:
        return [p for p in stage.prerequisites if not self.ready(p)]

    def step(self, kind: Literal["prerequisite", "strengthen", "next"], ref: str, reason: str) -> NextStep | None:
        stage = self.roadmap.stage(ref)
        if stage is not None:  # a whole stage: point at its first topic not yet ready
            topic = next((t for t in stage.topics if not self.ready(t)), stage.topics[0])
        else:
            topic, stage = ref, self.owner.get(ref)
        if stage is None:
            return None
        title = self.roadmap.topic_title(topic)
        return NextStep(kind=kind, topic=topic, title=title, stage=stage.stage, source=stage.path, reason=reason)


def next_steps(roadmap: Roadmap, mastery: list[TopicMastery], *, due: int = 0, limit: int = 4) -> list[NextStep]:
    plan = _Planner(roadmap, mastery)
    steps: list[NextStep] = []
    if due:
        steps.append(
            NextStep(
                kind="review",
                topic="",
                title=f"{due} item{'s' if due != 1 else ''} due for review",
                stage=-1,
                source="",
                reason="spaced repetition: run `tutor review`",
            )
        )
    for weak in sorted((m for m in mastery if m.mastery < READY), key=lambda m: (m.mastery, m.stage))[:2]:
        owner = plan.owner.get(weak.topic)
        for prereq in plan.missing_prerequisites(owner)[:1] if owner else []:
            prereq_stage = roadmap.stage(prereq)
            name = prereq_stage.title if prereq_stage else roadmap.topic_title(prereq)
            step = plan.step(
                "prerequisite", prereq, f"'{weak.title}' builds on '{name}', which you have not mastered yet"
            )
            if step:
                steps.append(step)
        step = plan.step("strengthen", weak.topic, f"your mastery is {weak.mastery:.0%} over {weak.items} question(s)")
        if step:
            steps.append(step)
    for stage in roadmap.stages:
        if not plan.missing_prerequisites(stage):
            fresh = next((t for t in stage.topics if t not in plan.score), None)
            if fresh:
                reason = "next on the roadmap" + (
                    f"; its prerequisites ({', '.join(stage.prerequisites)}) are in hand" if stage.prerequisites else ""
                )
                step = plan.step("next", fresh, reason)
                if step:
                    steps.append(step)
                break
    seen: set[tuple[str, str]] = set()
    unique: list[NextStep] = []
    for s in steps:
        if (s.kind, s.topic) not in seen and not any(u.topic == s.topic and s.topic for u in unique):
            seen.add((s.kind, s.topic))
            unique.append(s)
    return unique[:limit]
