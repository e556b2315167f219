"""Progress page: mastery per roadmap stage and topic, reviews due, and what to study next."""

from __future__ import annotations

import streamlit as st

from assistant.errors import TutorError
from assistant.practice.next_steps import next_steps
from ui.state import get_tutor


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def render() -> None:
    st.title("Progress")
    try:
        tutor = get_tutor()
        store = tutor.progress
        topics = store.topic_mastery(tutor.roadmap)
        stages = store.stage_mastery(tutor.roadmap)
        due = store.due()
        attempts = len(store.attempts())
    except TutorError as exc:
        st.error(str(exc))
        return
    st.caption(f"Learner: {store.learner_id} · {attempts} attempt(s) · {len(due)} due for review")
    st.subheader("Mastery by stage")
    st.dataframe(
        [
            {
                "stage": s.stage,
                "title": s.title,
                "mastery": pct(s.mastery),
                "topics practised": f"{s.topics_practised}/{s.topics}",
                "items": s.items,
            }
            for s in stages
        ],
        hide_index=True,
    )
    if topics:
        st.subheader("Topics, weakest first")
        st.dataframe(
            [
                {
                    "topic": t.title,
                    "stage": t.stage,
                    "mastery": pct(t.mastery),
                    "items": t.items,
                    "attempts": t.attempts,
                }
                for t in topics
            ],
            hide_index=True,
        )
    st.subheader("Study next")
    for step in next_steps(tutor.roadmap, topics, due=len(due)):
        where = f" (read {step.source})" if step.source else ""
        st.text(f"[{step.kind}] {step.title}{where}: {step.reason}")
    if due:
        st.subheader("Due for review")
        for item in due:
            question = item.payload.get("stem") or item.payload.get("question") or item.item_id
            st.text(f"- {question}")
        st.caption("Run `tutor review` in a terminal to answer them.")


render()
