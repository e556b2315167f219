"""Chat page: answers streamed, then replaced by the checked answer, with numbered sources and cost.

Earlier turns go with each question, so a follow-up ("which of those ...?") is made standalone for search.
A cut answer says so and `more` continues it; a stream that breaks off keeps its text, with a warning.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from assistant.errors import TutorError
from assistant.llm.base import Message
from assistant.rag.answer import Answer
from ui.render import format_answer_footer, format_cut_notice, format_interrupted, safe_markdown
from ui.state import get_tutor

MORE = ("more", "/more")


def show_sources(answer: dict[str, Any]) -> None:
    cited = answer.get("citations") or []
    shown = cited or answer.get("retrieved") or []
    if not shown:
        return
    with st.expander(f"Sources ({len(shown)})" + ("" if cited else ", not cited"), expanded=bool(cited)):
        for c in shown:
            st.text(f"[{c['n']}] {c['source']} — {c.get('heading_path') or c.get('title')}")


def past_messages(history: list[dict[str, Any]]) -> list[Message]:
    """The last turns as context for a follow-up: a `more` and its continuation count as one answer; an
    interrupted (unchecked) answer is left out."""
    messages: list[Message] = []
    for turn in history:
        if turn.get("interrupted") or turn.get("more"):
            continue
        if turn.get("continues") and messages and messages[-1].role == "assistant":
            messages[-1] = Message(role="assistant", content=f"{messages[-1].content} {turn['content']}")
            continue
        messages.append(Message(role=turn["role"], content=turn["content"]))
    return messages[-4:]


def answer_to_continue(history: list[dict[str, Any]]) -> Answer | None:
    """The last answer when it was cut off (and `more` can continue it)."""
    if not history or not history[-1].get("answer"):
        return None
    answer = Answer.model_validate(history[-1]["answer"])
    return answer if answer.can_continue else None


def render() -> None:
    st.title("Ask the roadmap")
    st.caption("Answers come from the roadmap documents, with numbered sources.")
    try:
        tutor = get_tutor()
    except TutorError as exc:
        st.error(str(exc))
        return
    history: list[dict[str, Any]] = st.session_state.setdefault("history", [])
    for turn in history:
        with st.chat_message(turn["role"]):
            st.markdown(safe_markdown(turn["content"]))
            if turn.get("warning"):
                st.warning(safe_markdown(turn["warning"]))
            if turn["role"] == "assistant" and turn.get("answer"):
                show_sources(turn["answer"])
                st.caption(safe_markdown(turn.get("footer", "")))

    question = st.chat_input("What maths do I need before deep learning?")
    if not question:
        return
    with st.chat_message("user"):
        st.markdown(safe_markdown(question))
    cut = answer_to_continue(history) if question.strip().lower().rstrip(".!") in MORE else None
    asked: dict[str, Any] = {"role": "user", "content": question, "more": cut is not None}
    with st.chat_message("assistant"):
        placeholder = st.empty()
        shown = ""
        try:
            if cut is not None:
                handle = tutor.answers.continue_stream(cut)
            else:
                handle = tutor.answers.ask_stream(question, history=past_messages(history))
            for piece in handle:  # the whole text so far is made safe each time: a piece may split an image
                shown += piece
                placeholder.markdown(safe_markdown(shown))
        except TutorError as exc:
            if not shown.strip():
                st.error(str(exc))
                return
            # The stream broke off: what it showed stays, marked as incomplete and unchecked.
            warning = format_interrupted(exc) + (f" Fix: {exc.fix}" if exc.fix else "")
            st.warning(safe_markdown(warning))
            history.append(asked)
            history.append({"role": "assistant", "content": shown, "warning": warning, "interrupted": True})
            return
        assert handle.answer is not None
        placeholder.markdown(safe_markdown(handle.answer.text))  # the checked answer replaces the draft
        notice = format_cut_notice(handle.answer, can_continue=True)
        if notice:
            st.warning(safe_markdown(notice))
        answer = handle.answer.model_dump(mode="json")
        footer = format_answer_footer(handle.answer)
        show_sources(answer)
        st.caption(safe_markdown(footer))
    history.append(asked)
    history.append(
        {
            "role": "assistant",
            "content": handle.answer.text,
            "answer": answer,
            "footer": footer,
            "warning": format_cut_notice(handle.answer),  # the `more` hint only while it is the last answer
            "continues": cut is not None and not handle.answer.declined,
        }
    )


render()
