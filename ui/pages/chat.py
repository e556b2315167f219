"""Chat page: answers streamed, then replaced by the checked answer, with numbered sources and cost.

Earlier turns go with each question, so a follow-up ("which of those ...?") is made standalone for search.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from assistant.errors import TutorError
from assistant.llm.base import Message
from ui.render import format_answer_footer, safe_markdown
from ui.state import get_tutor


def show_sources(answer: dict[str, Any]) -> None:
    cited = answer.get("citations") or []
    shown = cited or answer.get("retrieved") or []
    if not shown:
        return
    with st.expander(f"Sources ({len(shown)})" + ("" if cited else ", not cited"), expanded=bool(cited)):
        for c in shown:
            st.text(f"[{c['n']}] {c['source']} — {c.get('heading_path') or c.get('title')}")


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
            if turn["role"] == "assistant" and turn.get("answer"):
                show_sources(turn["answer"])
                st.caption(safe_markdown(turn.get("footer", "")))

    question = st.chat_input("What maths do I need before deep learning?")
    if not question:
        return
    with st.chat_message("user"):
        st.markdown(safe_markdown(question))
    past = [Message(role=t["role"], content=t["content"]) for t in history[-4:]]
    with st.chat_message("assistant"):
        placeholder = st.empty()
        shown = ""
        try:
            handle = tutor.answers.ask_stream(question, history=past)
            for piece in handle:  # the whole text so far is made safe each time: a piece may split an image
                shown += piece
                placeholder.markdown(safe_markdown(shown))
        except TutorError as exc:
            st.error(str(exc))
            return
        assert handle.answer is not None
        placeholder.markdown(safe_markdown(handle.answer.text))  # the checked answer replaces the draft
        answer = handle.answer.model_dump(mode="json")
        footer = format_answer_footer(handle.answer)
        show_sources(answer)
        st.caption(safe_markdown(footer))
    history.append({"role": "user", "content": question})
    history.append({"role": "assistant", "content": handle.answer.text, "answer": answer, "footer": footer})


render()
