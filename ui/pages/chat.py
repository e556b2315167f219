"""Chat page: answers streamed, then replaced by the checked answer, with numbered sources and cost.

Conversations are saved per learner (``assistant.conversations``): the sidebar lists them, starts a new
one, renames, deletes and exports as Markdown; a reload or a restart opens the most recent. Each cited
source opens as a card: the document, its heading path, the passage with the supporting sentences in
bold, and a fetched page's address. Earlier turns go with each question, so a follow-up ("which of
those ...?") is made standalone for search. A cut answer says so and `more` continues it; a stream that
breaks off keeps its text, with a warning. While other sessions use the local model, the page shows its
place in line.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from assistant.conversations import Conversation, ConversationStore, title_of, to_markdown
from assistant.errors import TutorError
from assistant.llm.base import Message
from assistant.rag.answer import Answer
from ui.render import (
    format_answer_footer,
    format_cut_notice,
    format_interrupted,
    highlighted_passage,
    plain_label,
    safe_markdown,
)
from ui.state import get_tutor
from ui.waiting import queue_notice

MORE = ("more", "/more")


def show_sources(answer: dict[str, Any]) -> None:
    """One card per cited source (or per retrieved one when none is cited): open it to read the passage."""
    cited = answer.get("citations") or []
    shown = cited or answer.get("retrieved") or []
    if not shown:
        return
    st.caption("Sources" if cited else "Retrieved, not cited by the answer")
    for c in shown:
        where = c.get("heading_path") or c.get("title") or ""
        with st.expander(plain_label(f"[{c['n']}] {c['source']} — {where}")):
            if c.get("url", "").startswith(("https://", "http://")):
                st.link_button("Open the original page", c["url"])
                st.caption(safe_markdown(c["url"]))
            if c.get("passage"):
                st.markdown(highlighted_passage(c["passage"], c.get("supporting") or []))
            else:
                st.caption("The passage was not kept with this answer.")


def open_conversation(store: ConversationStore) -> Conversation:
    """The conversation this session shows: the one picked, else the learner's most recent, else a new one."""
    wanted = st.session_state.get("conversation_id")
    if wanted:
        try:
            return store.get(wanted)
        except TutorError:
            pass  # deleted in another tab
    recent = store.recent()
    chosen = store.get(recent[0].id) if recent else store.create()
    st.session_state.conversation_id = chosen.id
    return chosen


def pick(key: str) -> None:
    st.session_state.conversation_id = st.session_state[key]


def rename(store: ConversationStore, current: Conversation, key: str) -> None:
    title = str(st.session_state.get(key, "")).strip()
    if title and title != current.title:
        store.rename(current.id, title)


def sidebar(store: ConversationStore, current: Conversation) -> None:
    with st.sidebar:
        st.subheader("Chats")
        if st.button("New chat", icon=":material/add:"):
            st.session_state.conversation_id = store.create().id
            st.rerun()
        chats = store.recent()
        ids = [c.id for c in chats]
        titles = {c.id: c.title for c in chats}
        key = "chats"
        # The radio shows the open chat, set here on every run: a key per chat ("chats-<id>") let the browser
        # send the previous radio's choice for the new one after "New chat", and the next question went to the
        # chat left behind (seen in the follow-up browser test with chromium 156.0.8078.129).
        st.session_state[key] = current.id if current.id in ids else (ids[0] if ids else None)
        st.radio(
            "Your conversations",
            ids,
            format_func=lambda i: plain_label(titles.get(i, "?")),
            key=key,
            # Only the learner's click opens another chat: reading the radio's value on every run opened
            # another tab's chat when that tab reordered the list, and dropped the question being sent
            # (seen in the browser test of two sessions).
            on_change=pick,
            args=(key,),
        )
        with st.expander("This chat"):
            key = f"title-{current.id}-{current.title}"  # a new field whenever the title changes
            st.text_input(
                "Title", value=current.title, key=key, max_chars=120, on_change=rename, args=(store, current, key)
            )
            st.download_button(
                "Export as Markdown",
                to_markdown(current),
                file_name=f"chat-{current.created:%Y%m%d-%H%M}.md",
                mime="text/markdown",
            )
            if st.button("Delete this chat", key=f"delete-{current.id}"):
                store.delete(current.id)
                st.session_state.pop("conversation_id", None)
                st.rerun()


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
        store = tutor.conversations
        current = open_conversation(store)
    except TutorError as exc:
        st.error(str(exc))
        return
    sidebar(store, current)
    history = current.turns
    for turn in history:
        with st.chat_message(turn["role"]):
            st.markdown(safe_markdown(turn["content"]))
            if turn.get("warning"):
                st.warning(safe_markdown(turn["warning"]))
            if turn["role"] == "assistant" and turn.get("answer"):
                show_sources(turn["answer"])
                st.caption(safe_markdown(turn.get("footer", "")))

    question = st.chat_input("Ask about the roadmap")
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
            with queue_notice("stop_answer"):
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
            broken = {"role": "assistant", "content": shown, "warning": warning, "interrupted": True}
            save(store, current, [asked, broken])
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
    reply = {
        "role": "assistant",
        "content": handle.answer.text,
        "answer": answer,
        "footer": footer,
        "warning": format_cut_notice(handle.answer),  # the `more` hint only while it is the last answer
        "continues": cut is not None and not handle.answer.declined,
    }
    save(store, current, [asked, reply])


def save(store: ConversationStore, current: Conversation, turns: list[dict[str, Any]]) -> None:
    """Keep a question and its answer; a new chat takes its first question as its title."""
    try:
        store.add_turns(current.id, turns)
        if not current.turns and current.title == "New chat":
            store.rename(current.id, title_of(str(turns[0]["content"])))
    except TutorError as exc:
        st.warning(f"This answer could not be saved: {exc}")


render()
