"""Quiz page: verified questions from the roadmap, answered in the browser, graded and recorded."""

from __future__ import annotations

from typing import Any

import streamlit as st

from assistant.errors import TutorError
from assistant.practice.models import LETTERS, Question, Quiz
from assistant.practice.progress import quiz_attempt
from assistant.practice.quiz import QuizRequest
from ui.render import safe_markdown
from ui.state import get_tutor
from ui.waiting import queue_notice

TYPES = {"Multiple choice": "mcq", "True or false": "true-false", "Short answer": "short"}
LEVELS = {"Any level": None, "Beginner": "beginner", "Intermediate": "intermediate", "Advanced": "advanced"}


def option_label(q: Question) -> Any:
    return lambda i: safe_markdown(f"{LETTERS[i]}) {q.options[i]}")


def generate(topic: str, n: int, qtype: str, level: str | None) -> None:
    tutor = get_tutor()
    request = QuizRequest(topic=topic, n=n, type=qtype, level=level)  # type: ignore[arg-type]
    plan = tutor.quizzes.plan(request)
    st.caption(plan.estimate.summary())
    with queue_notice("stop_quiz"), st.spinner("Writing and verifying questions from the roadmap..."):
        quiz = tutor.quizzes.generate(plan)
    st.session_state.quiz = quiz.model_dump(mode="json")
    st.session_state.quiz_graded = None


def show_results(quiz: Quiz, grades: list[dict[str, Any]]) -> None:
    total = sum(g["score"] for g in grades)
    st.subheader(f"Score: {total:g} / {len(grades)}")
    for i, (q, g) in enumerate(zip(quiz.questions, grades, strict=True), start=1):
        line = f"Q{i}: " + ("correct" if g["correct"] else f"{g['score']:.0%}, expected {g['expected']}")
        (st.success if g["correct"] else st.error)(safe_markdown(line))
        if g["missing"]:
            st.text("Missing: " + "; ".join(g["missing"]))
        st.text(f"Why: {q.explanation}")
        st.text(f"Re-read: {g['reread']}")


def render() -> None:
    st.title("Quiz")
    st.caption("Questions are written from the roadmap, checked against their source, then shown.")
    topic = st.text_input("Topic", placeholder="bias-variance trade-off", key="quiz_topic")
    cols = st.columns(3)
    n = int(cols[0].number_input("Questions", min_value=1, max_value=20, value=5))
    qtype = TYPES[cols[1].selectbox("Type", list(TYPES))]
    level = LEVELS[cols[2].selectbox("Level", list(LEVELS))]
    if st.button("Generate quiz", type="primary"):
        try:
            generate(topic, n, qtype, level)
        except TutorError as exc:
            st.error(str(exc))
            return
    if "quiz" not in st.session_state:
        return
    quiz = Quiz.model_validate(st.session_state.quiz)
    st.caption(
        safe_markdown(
            f"{len(quiz.questions)} verified question(s) on '{quiz.topic}'; {quiz.dropped} of {quiz.generated} "
            f"drafts dropped by verification."
        )
    )
    answers: list[str] = []
    for i, q in enumerate(quiz.questions, start=1):
        st.markdown(safe_markdown(f"**Q{i}.** {q.stem}"))
        if q.type == "short":
            answers.append(
                st.text_area(f"Your answer to question {i}", key=f"quiz-{q.id}", label_visibility="collapsed")
            )
        else:
            picked = st.radio(
                f"Your answer to question {i}",
                range(len(q.options)),
                index=None,
                format_func=option_label(q),
                key=f"quiz-{q.id}",
                label_visibility="collapsed",
            )
            answers.append("" if picked is None else LETTERS[picked])
    graded = st.session_state.get("quiz_graded")
    if graded is None and st.button("Check answers"):
        tutor = get_tutor()
        try:
            grades = [tutor.quizzes.grade(q, a) for q, a in zip(quiz.questions, answers, strict=True)]
        except TutorError as exc:
            st.error(str(exc))
            return
        for q, g in zip(quiz.questions, grades, strict=True):
            tutor.progress.record(quiz_attempt(q, g))
        st.session_state.quiz_graded = [g.model_dump(mode="json") for g in grades]
        st.rerun()  # shown again without the button: the answers are graded
    if graded is not None:
        show_results(quiz, graded)


render()
