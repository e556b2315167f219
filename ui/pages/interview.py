"""Interview page: practice questions with rubrics and sources, a Markdown download, mock feedback."""

from __future__ import annotations

import streamlit as st

from assistant.errors import TutorError
from assistant.practice.interview import to_markdown
from assistant.practice.models import Feedback, InterviewQuestion, InterviewSet
from assistant.practice.progress import interview_attempt
from ui.render import safe_markdown
from ui.state import get_tutor
from ui.waiting import queue_notice

LEVELS = ["junior", "mid", "senior"]
KINDS = {
    "A mix": None,
    "Conceptual": "conceptual",
    "Applied": "applied",
    "System design": "system-design",
    "Behavioural": "behavioural",
}


def show_feedback(feedback: Feedback) -> None:
    st.markdown(safe_markdown(f"**Score:** {feedback.score:.0%} of the rubric"))
    if feedback.covered:
        st.text("Covered: " + "; ".join(feedback.covered))
    if feedback.missing:
        st.text("Missing: " + "; ".join(feedback.missing))
    if feedback.comment:
        st.text(feedback.comment)
    st.text(f"Follow-up: {feedback.follow_up}")
    st.text("Sources: " + "; ".join(s.label for s in feedback.sources))


def mock(q: InterviewQuestion) -> None:
    key = f"mock-{q.id}"
    answer = st.text_area("Your answer", key=f"{key}-answer")
    done = st.session_state.setdefault("interview_feedback", {})
    if st.button("Get feedback", key=f"{key}-go"):
        tutor = get_tutor()
        try:
            with queue_notice(f"{key}-stop"):
                feedback = tutor.interviews.feedback(q, answer)
        except TutorError as exc:
            st.error(str(exc))
            return
        tutor.progress.record(interview_attempt(q, feedback, answer))
        done[q.id] = feedback.model_dump(mode="json")
    if q.id in done:
        show_feedback(Feedback.model_validate(done[q.id]))


def render() -> None:
    st.title("Interview practice")
    st.caption("Questions grounded in the roadmap, each with what a strong answer covers and its sources.")
    cols = st.columns(4)
    level = cols[0].selectbox("Level", LEVELS)
    kind = KINDS[cols[1].selectbox("Kind", list(KINDS))]
    n = int(cols[2].number_input("Questions", min_value=1, max_value=20, value=5))
    mock_mode = cols[3].toggle("Mock interview")
    topic = st.text_input("Topic (optional)", placeholder="model monitoring", key="interview_topic")
    if st.button("Generate questions", type="primary"):
        try:
            with queue_notice("stop_interview"), st.spinner("Writing questions from the roadmap..."):
                made = get_tutor().interviews.generate(level, topic=topic or None, kind=kind, n=n)  # type: ignore[arg-type]
        except TutorError as exc:
            st.error(str(exc))
            return
        st.session_state.interview = made.model_dump(mode="json")
        st.session_state.interview_feedback = {}
    if "interview" not in st.session_state:
        return
    made = InterviewSet.model_validate(st.session_state.interview)
    st.caption(f"{len(made.questions)} question(s); {made.dropped} of {made.generated} drafts dropped by verification.")
    st.download_button("Download as Markdown", to_markdown(made), file_name="interview-practice.md")
    for i, q in enumerate(made.questions, start=1):
        st.markdown(safe_markdown(f"**{i}. {q.question}**"))
        st.caption(safe_markdown(f"{q.kind} · {q.topic}"))
        if mock_mode:
            mock(q)
            continue
        with st.expander("What a strong answer covers"):
            st.text("\n".join(f"- {p}" for p in q.rubric))
            st.text("Sources: " + "; ".join(s.label for s in q.sources))


render()
