"""The study app in a real browser: Debian's chromium (Playwright) against `tutor serve` on a free port.

The model behind it is the fake OpenAI-compatible server with a scripted tutor (grounded one-sentence
answers, the practice model for quizzes), so what is tested is the app: pages load with no console error,
chat shows sources that open, a follow-up is understood, an off-topic question is declined, a reload keeps
the conversation, two sessions ask at once, a quiz is answered and graded, a due card is reviewed.
Screenshots of every page go to ``data/screenshots/`` (ignored). The real embedded model is in one smoke test.
"""

from __future__ import annotations

import os
import re
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.practice.progress import ProgressStore
from assistant.settings import load_settings
from tests.browser import Tab, chromium, open_tab, tutor_serve
from tests.conftest import MINI, MODELS_DIR, fake_server_env, ingest_folder
from tests.fakes.openai_server import FakeOpenAI
from tests.fixtures.practice.fake_model import PracticeModel
from tests.fixtures.practice.helpers import missed_question

PAGES = ["Chat", "Quiz", "Interview", "Review", "Progress", "Costs", "Library"]
SOURCE = re.compile(r"\[1\][^\n]*\n<<<\n(.*?)\n>>>", re.S)
REWRITE = "Which branch of mathematics, linear algebra, calculus or probability, matters most for neural networks?"


class ScriptedTutor(PracticeModel):
    """Chat answers: the first sentence of source [1], cited; follow-ups rewritten; practice as scripted."""

    def __init__(self) -> None:
        super().__init__()
        self.rewrites = 0
        self.gate = threading.Event()
        self.gate.set()
        self.held = 0  # answers waiting at the closed gate

    def __call__(self, body: dict[str, Any]) -> str:
        if body.get("response_format"):
            return super().__call__(body)
        system = body["messages"][0]["content"]
        if system.startswith("Rewrite the learner's"):
            self.rewrites += 1
            return REWRITE
        if not self.gate.is_set():  # a test holds answers back to keep two sessions in flight together
            self.held += 1
            self.gate.wait(30)
        found = SOURCE.search(body["messages"][-1]["content"])
        text = " ".join(line for line in (found.group(1) if found else "").splitlines() if not line.startswith("#"))
        first = re.split(r"(?<=[.!?])\s+", text.strip())[0] if text.strip() else "I do not know."
        return f"{first} [1]"


@pytest.fixture(scope="module")
def model() -> ScriptedTutor:
    return ScriptedTutor()


@pytest.fixture(scope="module")
def app_env(tmp_path_factory: pytest.TempPathFactory, embedder: Any, model: ScriptedTutor) -> Iterator[dict[str, str]]:
    fake = FakeOpenAI().start()
    fake.responder = model
    data = tmp_path_factory.mktemp("browser") / "data"
    env = fake_server_env(fake, data, KNOWLEDGE_DIR=str(MINI), MODEL_CACHE_DIR=str(MODELS_DIR))
    settings = load_settings(env_file=None, **env)
    ingest_folder(settings, MINI, embedder)
    missed_question(ProgressStore(settings.progress_path, settings.learner_id))  # one card due for review
    yield env
    fake.stop()


@pytest.fixture(scope="module")
def app_url(app_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with tutor_serve(app_env, log=log) as url:
        yield url
    said = log.read_text()
    assert "Traceback" not in said and "deprecat" not in said.lower(), said[-3000:]  # no crash, no warnings


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def browser(chromium_browser: Any) -> Iterator[Any]:
    """The browser, with every session a test opened closed after it (their app sessions end too)."""
    yield chromium_browser
    for context in chromium_browser.contexts:
        context.close()


def new_chat(tab: Tab) -> None:
    """Open a new, empty chat (a click during a script run can be dropped by Streamlit: try again)."""
    for _ in range(3):
        tab.page.get_by_role("button", name="New chat").click()
        tab.wait_idle()
        if not tab.messages():
            return
    raise AssertionError(f"a new chat did not open: {tab.messages()}")


def answered(tab: Tab, n: int, timeout_ms: int = 60_000) -> list[str]:
    """The chat's messages once there are ``n`` and the answer is complete (its footer shown)."""
    tab.page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=stChatMessage]').length >= {n}", timeout=timeout_ms
    )
    tab.wait_idle(timeout_ms)
    return tab.messages()


def test_every_page_loads_with_no_console_error(app_url, browser):
    tab = open_tab(browser).go(app_url)
    shots: list[Path] = []
    for title in PAGES:
        tab.nav(title)
        assert tab.page.get_by_test_id("stException").count() == 0, title
        shots.append(tab.shot(f"page-{title.lower()}"))
    assert tab.errors == []
    assert tab.page.get_by_role("button", name="Deploy").count() == 0  # toolbar mode: minimal
    assert all(p.stat().st_size > 10_000 for p in shots)


def test_chat_answers_with_sources_that_open_and_a_reload_keeps_it(app_url, browser):
    tab = open_tab(browser).go(app_url)
    tab.ask("How do I serve a trained model?")
    messages = answered(tab, 2)
    assert "model" in messages[1] and "[1]" in messages[1] and "deploy.md" in messages[1], messages
    card = tab.page.get_by_test_id("stExpander").filter(has_text="deploy.md").first
    card.locator("summary").click()
    passage = card.get_by_test_id("stMarkdownContainer").last
    passage.wait_for()
    assert passage.locator("strong").count() >= 1  # the supporting sentence in bold
    tab.shot("chat-source-card")
    url = tab.page.url
    assert "session=" in url  # a reload continues this session
    tab.page.reload()
    tab.wait_idle()
    assert any("How do I serve a trained model?" in m for m in tab.messages())
    assert tab.page.url == url
    tab.nav("Costs")  # the answer's tokens still count for this session after the reload
    assert "session=" in tab.page.url
    session = tab.page.get_by_test_id("stMetric").filter(has_text="Tokens this session")
    assert re.search(r"Tokens this session\s+[1-9][\d,]*", session.inner_text()), session.inner_text()
    assert tab.errors == []


def test_a_follow_up_is_understood_and_an_off_topic_question_declined(app_url, browser, model):
    tab = open_tab(browser).go(app_url)
    new_chat(tab)
    tab.ask("What maths do I need before deep learning?")
    answered(tab, 2)
    before = model.rewrites
    tab.ask("Which of those matters most for neural networks?")
    messages = answered(tab, 4)
    assert model.rewrites == before + 1
    assert "maths.md" in messages[3] and "[1]" in messages[3], messages[3]  # answered from the maths document
    assert "does not cover" not in messages[3]
    tab.ask("How do I bake sourdough bread?")
    messages = answered(tab, 6)
    assert "does not cover" in messages[5] and "[1]" not in messages[5], messages[5]
    tab.shot("chat-follow-up-and-decline")
    assert tab.errors == []


def test_two_sessions_asking_at_once_both_get_answers(app_url, browser, model):
    tabs = [open_tab(browser).go(app_url) for _ in range(2)]
    for tab in tabs:
        new_chat(tab)
    model.gate.clear()  # hold the answers until both questions are in
    try:
        tabs[0].ask("How do I serve a trained model?")
        tabs[1].ask("What does Docker do for a model service?")
        for _ in range(300):
            if model.held >= 2:
                break
            tabs[1].page.wait_for_timeout(100)
        assert model.held == 2  # both sessions are waiting on the model at the same time
    finally:
        model.gate.set()
    for tab in tabs:
        messages = answered(tab, 2)
        assert len(messages) == 2, messages  # each session kept to its own new chat
        answer = messages[1]
        assert "[1]" in answer and "deploy.md" in answer, answer
        assert tab.errors == []


def test_a_quiz_is_answered_and_graded_in_the_browser(app_url, browser):
    tab = open_tab(browser).go(app_url).nav("Quiz")
    tab.page.get_by_label("Topic").fill("calculus")
    questions = tab.page.get_by_label("Questions")
    questions.fill("2")
    questions.press("Enter")
    tab.page.get_by_role("button", name="Generate quiz").click()
    tab.page.get_by_role("button", name="Check answers").wait_for()
    tab.wait_idle()
    groups = tab.page.get_by_role("radiogroup")
    assert groups.count() == 2
    for i in range(2):
        groups.nth(i).get_by_role("radio").first.check(force=True)
        tab.wait_idle()
    tab.page.get_by_role("button", name="Check answers").click()
    tab.page.get_by_text(re.compile(r"^Score: ")).wait_for()
    tab.wait_idle()
    assert tab.page.get_by_role("button", name="Check answers").count() == 0
    assert tab.page.get_by_text(re.compile(r"^Q1: ")).count() == 1
    tab.shot("quiz-graded")
    assert tab.errors == []


def test_a_due_card_is_reviewed_with_a_rating(app_url, browser):
    tab = open_tab(browser).go(app_url)
    assert tab.page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile(r"Review \(1 due\)")).count()
    tab.nav("Review")
    assert "Which penalty can set some weights" in tab.page.inner_text("body")
    tab.page.get_by_role("radio").nth(1).check(force=True)
    tab.wait_idle()
    tab.page.get_by_role("button", name="Show the answer").click()
    tab.page.get_by_role("button", name="Good").wait_for()
    tab.shot("review-answer-shown")
    tab.page.get_by_role("button", name="Good").click()
    tab.page.get_by_text(re.compile("Rated good: next review")).wait_for()
    assert tab.errors == []


# -- the real embedded model ----------------------------------------------------------------------------
SMOKE_MODEL = os.environ.get("BROWSER_MODEL", "qwen2.5-coder-0.5b")  # the 1.5B default for the acceptance run
QUESTIONS = [
    "How do I serve a trained model?",
    "What does Docker do for a model service?",
    "Which branches of mathematics do I need before deep learning?",
    "How should I prepare for coding rounds?",
    "What do system design interviews ask about?",
]


def test_five_sessions_ask_the_embedded_model_at_once_and_all_get_answers(
    browser, embedder, tmp_path, local_model_path
):
    data = tmp_path / "data"
    env = {"PROVIDER": "local", "LOCAL_MODEL": SMOKE_MODEL, "DATA_DIR": str(data), "KNOWLEDGE_DIR": str(MINI)}
    env["MODEL_CACHE_DIR"] = str(MODELS_DIR)
    ingest_folder(load_settings(env_file=None, **env), MINI, embedder)
    with tutor_serve(env, log=tmp_path / "serve.log") as url:
        tabs = [open_tab(browser).go(url) for _ in QUESTIONS]
        for tab, question in zip(tabs, QUESTIONS, strict=True):
            tab.ask(question)  # all five are in before the first answer is done
        notice = re.compile(r"^Waiting: \d+ requests? ahead of yours")
        waiting: list[Tab] = []
        for _ in range(120):  # the later sessions show their place in line while the first is answered
            waiting = [t for t in tabs[1:] if t.page.get_by_text(notice).count()]
            if waiting:
                break
            tabs[-1].page.wait_for_timeout(500)
        for i, tab in enumerate(tabs):
            messages = answered(tab, 2, timeout_ms=900_000)
            assert "tokens:" in messages[1] and tab.page.get_by_test_id("stException").count() == 0, messages
            assert tab.errors == []
            tab.shot(f"local-model-session-{i + 1}")
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as health:
            assert health.status == 200  # the server stayed up for everyone
    assert waiting, "no page showed its place in line while the model served another"
