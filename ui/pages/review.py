"""Review page: the missed or weak items spaced repetition says are due, one at a time, rated by the learner.

Answer (or think of the answer), show the key with its source sentence, then rate how it went: again,
hard, good or easy. The rating goes to the FSRS schedule (``ProgressStore.record`` with ``rating``) and
the page says when the item comes back. No model call is made: reviewing is free and instant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from assistant.errors import TutorError
from assistant.practice.flashcards import FlashcardRequest
from assistant.practice.models import LETTERS, InterviewQuestion, Question
from assistant.practice.progress import DueItem, ProgressStore, Rating, rated_attempt, rated_correct
from ui.render import safe_markdown
from ui.state import get_tutor
from ui.waiting import queue_notice

RATING_BUTTONS: list[tuple[Rating, str]] = [("again", "Again"), ("hard", "Hard"), ("good", "Good"), ("easy", "Easy")]


def when(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "nothing else is scheduled"
    minutes = (moment - (now or datetime.now(UTC))).total_seconds() / 60
    if minutes <= 1:
        return "now"
    if minutes < 90:
        return f"in {minutes:.0f} min"
    if minutes < 36 * 60:
        return f"in {minutes / 60:.0f} h"
    return f"in {minutes / 1440:.0f} days ({moment:%d %b})"


def ask(item: DueItem) -> str:
    """The question and the learner's answer (text, or the option picked)."""
    if item.kind == "interview":
        iq = InterviewQuestion.model_validate(item.payload)
        st.markdown(safe_markdown(f"**{iq.question}**"))
        return str(st.text_area("Your answer (or answer aloud)", key=f"review-{item.item_id}"))
    q = Question.model_validate(item.payload)
    st.markdown(safe_markdown(f"**{q.stem}**"))
    if q.options:
        picked = st.radio(
            "Your answer", range(len(q.options)), index=None, key=f"review-{item.item_id}",
            format_func=lambda i: safe_markdown(f"{LETTERS[i]}) {q.options[i]}"),
        )  # fmt: skip
        return "" if picked is None else (q.options[picked] if q.type == "true-false" else LETTERS[picked])
    label = "Your answer (or say it to yourself)" if q.type == "flashcard" else "Your answer"
    return str(st.text_area(label, key=f"review-{item.item_id}"))


def reveal(item: DueItem, response: str) -> None:
    if item.kind == "interview":
        iq = InterviewQuestion.model_validate(item.payload)
        st.markdown("A strong answer covers:\n" + "\n".join(f"- {safe_markdown(p)}" for p in iq.rubric))
        st.caption(safe_markdown("Sources: " + "; ".join(s.label for s in iq.sources)))
        return
    q = Question.model_validate(item.payload)
    key = f"{LETTERS[q.answer_index]}) {q.answer}" if q.type == "mcq" and q.answer_index is not None else q.answer
    if q.type in ("mcq", "true-false") and response:
        right = rated_correct(item, response, "good")
        (st.success if right else st.error)(safe_markdown(f"{'Right' if right else 'Not quite'}. Answer: {key}"))
    else:
        st.info(safe_markdown(f"Answer: {key}"))
    where = f"{q.citation.source} — {q.citation.heading_path}"
    st.caption(safe_markdown(f"{q.explanation} ({where})" if q.explanation else f"From the roadmap: {where}"))


def rate(store: ProgressStore, item: DueItem, response: str) -> None:
    st.caption("How did it go? The schedule brings it back sooner or later by your rating.")
    for col, (rating, label) in zip(st.columns(len(RATING_BUTTONS)), RATING_BUTTONS, strict=True):
        if col.button(label, key=f"rate-{rating}-{item.item_id}", width="stretch"):
            store.record(rated_attempt(item, rating, response))
            st.session_state.review_last = f"Rated {label.lower()}: next review {when(store.due_at(item.item_id))}."
            st.session_state.pop("review_shown", None)
            st.rerun()


def make_flashcards(store: ProgressStore) -> None:
    """Flashcards on a topic: the back a roadmap sentence, the front written by the model; due at once."""
    with st.expander("Make flashcards on a topic"):
        topic = st.text_input("Flashcard topic", placeholder="model monitoring", key="flashcard_topic")
        n = int(st.number_input("Cards", min_value=1, max_value=10, value=5, key="flashcard_n"))
        if not st.button("Make flashcards"):
            return
        try:
            with queue_notice("stop_flashcards"), st.spinner("Writing the front of each card..."):
                deck = get_tutor().flashcards.make(FlashcardRequest(topic=topic, n=n))
            added = store.add_cards(deck.cards)
        except TutorError as exc:
            st.error(str(exc))
            return
        st.session_state.review_last = (
            f"{added} new flashcard(s) on {deck.topic} are due now"
            + (f" ({len(deck.cards) - added} you already had)." if added < len(deck.cards) else ".")
            + (f" {deck.note}" if deck.note else "")
        )
        st.rerun()


def render() -> None:
    st.title("Review")
    st.caption(
        "The items you missed or found hard and your flashcards, when spaced repetition says they are due. "
        "Reviewing makes no model calls."
    )
    try:
        store = get_tutor().progress
        due = store.due()
    except TutorError as exc:
        st.error(str(exc))
        return
    make_flashcards(store)
    if st.session_state.get("review_last"):
        st.success(safe_markdown(st.session_state.pop("review_last")))
    if not due:
        nxt = store.next_due()
        st.info(f"Nothing is due for review; {'the next is due ' + when(nxt) if nxt else 'nothing is scheduled'}.")
        return
    st.caption(f"{len(due)} item(s) due.")
    item = due[0]
    st.caption(safe_markdown(f"Topic: {item.topic}"))
    response = ask(item)
    shown: dict[str, Any] = st.session_state.setdefault("review_shown", {})
    if not shown.get(item.item_id) and st.button("Show the answer", type="primary"):
        shown[item.item_id] = True
        st.rerun()
    if shown.get(item.item_id):
        reveal(item, response)
        rate(store, item, response)


render()
