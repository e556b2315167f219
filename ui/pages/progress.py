"""Progress page: the roadmap map coloured by mastery, practice over time, mastery per stage and topic,
reviews due, and what to study next."""

from __future__ import annotations

from typing import Any

import streamlit as st

from assistant.errors import TutorError
from assistant.practice.next_steps import next_steps
from assistant.practice.progress import StageMastery
from assistant.roadmap import Roadmap
from ui.charts import MAP_SELECTION, MASTERY_LEGEND, practice_chart, roadmap_chart, stage_mastery_chart
from ui.render import plain_label
from ui.state import get_tutor


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def practise(kind: str, topic: str) -> None:
    """Open the quiz or interview page with the stage as its topic."""
    st.session_state[f"{kind}_topic"] = topic
    st.switch_page(f"pages/{kind}.py")


def clicked_stage(event: Any) -> int | None:
    """The stage number a click on the map selected, if any (Streamlit's selection event, read defensively)."""
    try:
        points = event["selection"][MAP_SELECTION]
        return int(points[0]["stage"]) if points else None
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def roadmap_map(roadmap: Roadmap, stages: list[StageMastery]) -> None:
    st.subheader("Your roadmap")
    titles = {s.stage: f"{s.stage}. {s.title}" for s in roadmap.stages}
    event = st.altair_chart(roadmap_chart(roadmap, stages), on_select="rerun", key="roadmap_map", width="stretch")
    clicked = clicked_stage(event)
    if clicked in titles and clicked != st.session_state.get("map_clicked"):
        st.session_state["map_clicked"] = clicked  # a new click opens its stage; the picker can still change it
        st.session_state["open_stage"] = clicked
    st.caption(MASTERY_LEGEND + " · lines run down from a prerequisite to the stage that needs it · click a stage")
    chosen: int | None = st.selectbox(
        "Open a stage", list(titles), format_func=lambda n: plain_label(titles[n]), key="open_stage"
    )
    stage = roadmap.stage(chosen) if chosen is not None else None
    if stage is None:
        return
    mastery = next((s.mastery for s in stages if s.id == stage.id), None)
    st.text(f"{stage.path} · {stage.level} · about {stage.estimated_hours} h · mastery {pct(mastery)}")
    st.text("Topics: " + ", ".join(stage.headings.get(t, t) for t in stage.topics))
    cols = st.columns(3)
    if cols[0].button("Quiz me on this stage", width="stretch"):
        practise("quiz", stage.title)
    if cols[1].button("Mock interview on it", width="stretch"):
        practise("interview", stage.title)
    with cols[2].popover("Resources", width="stretch"):
        for r in stage.resources:
            st.markdown(f"- [{plain_label(r.title)}]({r.url}) ({plain_label(r.kind)})")


def stage_table(stages: list[StageMastery]) -> list[dict[str, Any]]:
    return [
        {
            "stage": s.stage,
            "title": s.title,
            "mastery": pct(s.mastery),
            "topics practised": f"{s.topics_practised}/{s.topics}",
            "items": s.items,
        }
        for s in stages
    ]


def render() -> None:
    st.title("Progress")
    try:
        tutor = get_tutor()
        store = tutor.progress
        topics = store.topic_mastery(tutor.roadmap)
        stages = store.stage_mastery(tutor.roadmap)
        due = store.due()
        attempts = store.attempts()
    except TutorError as exc:
        st.error(str(exc))
        return
    st.caption(f"Learner: {store.learner_id} · {len(attempts)} attempt(s) · {len(due)} due for review")
    roadmap_map(tutor.roadmap, stages)

    st.subheader("Practice over time")
    if attempts:
        st.altair_chart(practice_chart(attempts), width="stretch")
        st.caption("Bars: answers per day (UTC). Line: their mean score.")
    else:
        st.info("No practice yet: take a quiz or a mock interview and it shows here.")

    st.subheader("Mastery by stage")
    st.altair_chart(stage_mastery_chart(stages), width="stretch")
    rows = stage_table(stages)
    st.dataframe(rows, hide_index=True, height="content")
    if topics:
        st.subheader("Topics, weakest first")
        rows = [
            {"topic": t.title, "stage": t.stage, "mastery": pct(t.mastery), "items": t.items, "attempts": t.attempts}
            for t in topics
        ]
        st.dataframe(rows, hide_index=True, height="content")
    st.subheader("Study next")
    for step in next_steps(tutor.roadmap, topics, due=len(due)):
        where = f" (read {step.source})" if step.source else ""
        st.text(f"[{step.kind}] {step.title}{where}: {step.reason}")
    if due:
        st.subheader("Due for review")
        for item in due:
            question = item.payload.get("stem") or item.payload.get("question") or item.item_id
            st.text(f"- {question}")
        st.page_link("pages/review.py", label="Review them now", icon=":material/replay:")


render()
