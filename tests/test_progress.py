"""The progress store (SQLite on disk), mastery, what to study next, `tutor review`/`tutor progress`, page."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from assistant.practice.next_steps import next_steps
from assistant.practice.progress import AttemptIn, ProgressStore, TopicMastery
from assistant.roadmap import load_roadmap
from tests.conftest import REPO
from tests.fixtures.practice.fake_model import PracticeModel
from tests.fixtures.practice.helpers import CORPUS, env_for, missed_question, practice_settings, practice_tutor
from ui.cli import app

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def attempt(item: str, topic: str, stage: int, correct: bool, score: float | None = None) -> AttemptIn:
    return AttemptIn(
        item_id=item,
        kind="quiz",
        question_type="mcq",
        topic=topic,
        stage=stage,
        question=f"{item}?",
        response="A",
        correct=correct,
        score=float(correct) if score is None else score,
        payload={"id": item, "type": "mcq", "stem": f"{item}?"},
    )


def test_attempts_are_recorded_and_learners_kept_apart(tmp_path):
    path = tmp_path / "progress.sqlite3"
    ana, ben = ProgressStore(path, "ana"), ProgressStore(path, "ben")
    ana.record(attempt("a1", "bias-variance-trade-off", 5, False), now=NOW)
    ana.record(attempt("a1", "bias-variance-trade-off", 5, True), now=NOW + timedelta(minutes=5))
    ben.record(attempt("a1", "cross-validation", 5, True), now=NOW)
    assert [a.correct for a in ana.attempts()] == [True, False]
    assert len(ben.attempts()) == 1 and ben.attempts()[0].topic == "cross-validation"
    assert [t.topic for t in ana.topic_mastery()] == ["bias-variance-trade-off"]
    assert ana.topic_mastery()[0].mastery == 1.0 and ana.topic_mastery()[0].attempts == 2
    assert ben.due(now=NOW + timedelta(days=1)) == []  # ben never missed anything
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_mastery_per_topic_and_stage(tmp_path):
    roadmap = load_roadmap(CORPUS)
    store = ProgressStore(tmp_path / "p.sqlite3", "default")
    store.record(attempt("q1", "bias-variance-trade-off", 5, True), now=NOW)
    store.record(attempt("q2", "bias-variance-trade-off", 5, False), now=NOW)
    store.record(attempt("q3", "cross-validation", 5, True), now=NOW)
    topics = {t.topic: t for t in store.topic_mastery(roadmap)}
    assert topics["bias-variance-trade-off"].mastery == 0.5 and topics["bias-variance-trade-off"].items == 2
    assert topics["bias-variance-trade-off"].title == "Bias-variance trade-off"
    stages = {s.stage: s for s in store.stage_mastery(roadmap)}
    assert stages[5].topics_practised == 2 and stages[5].topics == 3 and stages[5].mastery == pytest.approx(0.667, 0.01)
    assert stages[1].mastery is None and stages[1].items == 0


def test_missed_items_become_due_and_leave_when_recalled(tmp_path):
    store = ProgressStore(tmp_path / "p.sqlite3", "default")
    store.record(attempt("q1", "regularisation", 5, False), now=NOW)
    store.record(attempt("q2", "regularisation", 5, True), now=NOW)
    assert store.due(now=NOW) == []
    due = store.due(now=NOW + timedelta(minutes=15))
    assert [d.item_id for d in due] == ["q1"] and due[0].payload["stem"] == "q1?"
    recalled = NOW + timedelta(minutes=15)
    store.record(attempt("q1", "regularisation", 5, True), now=recalled)
    assert store.due(now=recalled) == []  # next learning step, minutes later
    step = store.next_due()
    assert step is not None and recalled < step <= recalled + timedelta(minutes=10)
    store.record(attempt("q1", "regularisation", 5, True), now=step)
    assert store.due(now=step + timedelta(hours=12)) == []  # graduated: days away


def test_next_steps_use_prerequisites_and_weakest_topics():
    roadmap = load_roadmap(CORPUS)
    fresh = next_steps(roadmap, [])
    assert fresh[0].kind == "next" and fresh[0].topic == "python-basics" and fresh[0].source == "01-foundations.md"
    weak = [TopicMastery(topic="bias-variance-trade-off", title="Bias-variance trade-off", stage=5, items=3,
                         attempts=3, mastery=0.33)]  # fmt: skip
    steps = next_steps(roadmap, weak, due=2)
    assert [s.kind for s in steps[:3]] == ["review", "prerequisite", "strengthen"]
    assert steps[1].stage == 1 and "builds on 'Programming foundations'" in steps[1].reason
    assert steps[2].topic == "bias-variance-trade-off" and "33%" in steps[2].reason
    strong = [
        TopicMastery(topic=t, title=t, stage=1, items=2, attempts=2, mastery=1.0)
        for t in ("python-basics", "data-handling")
    ]
    assert next_steps(roadmap, strong)[0].topic == "bias-variance-trade-off"  # stage 5 is now open


def test_a_kill_mid_write_leaves_no_partial_attempt(tmp_path):
    path = tmp_path / "progress.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(5)
    for _ in range(4):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.practice.write_attempts", str(path), "kill-test"], env=env, cwd=REPO
        )
        before = _count(path)
        deadline = time.time() + 60
        while _count(path) < before + 20 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 0.2))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert _count(path) >= before + 20, "the writer never got going"
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            per_item = dict(db.execute("SELECT item_id, COUNT(*) FROM attempts GROUP BY item_id").fetchall())
            summary = dict(db.execute("SELECT item_id, attempts FROM items").fetchall())
        assert per_item == summary  # every attempt row has its item update, and no update lacks its row
    store = ProgressStore(path, "kill-test")
    assert len(store.attempts()) == sum(summary.values())
    assert store.topic_mastery()


def _count(path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.fixture
def cli_env(monkeypatch, make_settings, fake_openai, embedder, tmp_path):
    fake_openai.responder = PracticeModel()
    settings = practice_settings(make_settings, fake_openai)
    practice_tutor(settings, embedder)
    monkeypatch.chdir(tmp_path)
    for key, value in env_for(settings, fake_openai).items():
        monkeypatch.setenv(key, value)
    return settings


def test_review_and_progress_reflect_a_quiz(cli_env):
    runner = CliRunner()
    quiz = runner.invoke(app, ["quiz", "--topic", "bias-variance trade-off", "--n", "3"], input="\n\n\n")
    assert quiz.exit_code == 0, quiz.output  # three empty answers: three misses
    progress = runner.invoke(app, ["progress", "--json"])
    data = json.loads(progress.stdout)
    assert data["attempts"] == 3 and data["learner_id"] == "default"
    stage5 = next(s for s in data["stages"] if s["stage"] == 5)
    assert stage5["items"] == 3 and stage5["mastery"] == 0 and stage5["topics_practised"] == 1
    assert data["topics"][0]["topic"] == "bias-variance-trade-off"
    assert {s["kind"] for s in data["next"]} >= {"prerequisite", "strengthen"}
    text = runner.invoke(app, ["progress"]).output
    assert "Classic machine learning" in text and "study next:" in text

    assert "Nothing is due for review" in runner.invoke(app, ["review"]).output  # due in minutes, not now
    listed = json.loads(runner.invoke(app, ["review", "--ahead", "15", "--json"]).stdout)
    assert len(listed["due"]) == 3
    first = listed["due"][0]["payload"]
    answers = "\n".join("ABCD"[q["payload"]["answer_index"]] for q in listed["due"]) + "\n"
    review = runner.invoke(app, ["review", "--ahead", "15"], input=answers)
    assert review.exit_code == 0 and review.output.count("correct.") == 3, review.output
    assert first["stem"] in review.output
    after = json.loads(runner.invoke(app, ["progress", "--json"]).stdout)
    assert after["attempts"] == 6 and next(s for s in after["stages"] if s["stage"] == 5)["mastery"] == 1.0
    later = json.loads(runner.invoke(app, ["review", "--ahead", "15", "--json"]).stdout)["due"]
    old_due = {d["item_id"]: d["due"] for d in listed["due"]}
    assert all(d["due"] > old_due[d["item_id"]] for d in later)  # rescheduled further out


def test_learner_id_keeps_progress_apart(cli_env, monkeypatch):
    runner = CliRunner()
    runner.invoke(app, ["quiz", "--topic", "regularisation", "--n", "1"], input="\n")
    monkeypatch.setenv("LEARNER_ID", "someone-else")
    data = json.loads(runner.invoke(app, ["progress", "--json"]).stdout)
    assert data["learner_id"] == "someone-else" and data["attempts"] == 0


def test_progress_page_shows_mastery_and_next_steps(cli_env):
    store = ProgressStore(cli_env.progress_path, "default")
    store.record(attempt("q1", "bias-variance-trade-off", 5, False))
    at = AppTest.from_file(str(REPO / "ui" / "pages" / "progress.py"), default_timeout=60).run()
    assert not at.exception
    assert "1 attempt(s)" in " ".join(c.value for c in at.caption)
    assert len(at.dataframe) == 2
    texts = " ".join(t.value for t in at.text)
    assert "[strengthen] Bias-variance trade-off" in texts and "[prerequisite]" in texts


def test_practice_pages_are_reachable_from_the_app(cli_env):
    at = AppTest.from_file(str(REPO / "ui" / "app.py"), default_timeout=60).run()
    for page, title in (("quiz.py", "Quiz"), ("interview.py", "Interview practice"), ("progress.py", "Progress")):
        at.switch_page(f"pages/{page}").run()
        assert not at.exception and at.title[0].value == title


def test_review_page_asks_the_due_item_shows_the_key_and_reschedules_by_the_learners_rating(cli_env):
    store = ProgressStore(cli_env.progress_path, "default")
    item = missed_question(store)
    assert [d.item_id for d in store.due()] == [item]
    at = AppTest.from_file(str(REPO / "ui" / "pages" / "review.py"), default_timeout=60).run()
    assert not at.exception and at.title[0].value == "Review"
    assert "Which penalty can set some weights" in " ".join(m.value for m in at.markdown)
    at.radio[0].set_value(1).run()  # B) L1
    next(b for b in at.button if b.label == "Show the answer").click().run()
    assert any("Right. Answer: B) L1" in s.value for s in at.success)
    assert "regularisation.md" in " ".join(c.value for c in at.caption)
    next(b for b in at.button if b.label == "Good").click().run()
    assert not at.exception
    assert any("Rated good: next review in" in s.value for s in at.success)
    assert store.due() == [] and store.due_at(item) > datetime.now(UTC) + timedelta(minutes=5)  # a learning step
    (last,) = store.attempts(limit=1)
    assert last.kind == "review" and last.correct and last.score == 0.8
    assert "Nothing is due for review" in at.info[0].value


def test_again_in_the_app_brings_an_item_back_within_minutes(cli_env):
    store = ProgressStore(cli_env.progress_path, "default")
    item = missed_question(store)
    app_test = AppTest.from_file(str(REPO / "ui" / "app.py"), default_timeout=60).run()
    assert not app_test.exception
    app_test.switch_page("pages/review.py").run()
    next(b for b in app_test.button if b.label == "Show the answer").click().run()
    next(b for b in app_test.button if b.label == "Again").click().run()
    due = store.due_at(item)
    assert due is not None and due < datetime.now(UTC) + timedelta(minutes=5)


def test_the_roadmap_map_opens_a_quiz_on_the_chosen_stage(cli_env):
    at = AppTest.from_file(str(REPO / "ui" / "app.py"), default_timeout=60).run()
    at.switch_page("pages/progress.py").run()
    assert not at.exception and any(s.value == "Your roadmap" for s in at.subheader)
    picker = next(s for s in at.selectbox if s.label == "Open a stage")
    picker.set_value(5).run()
    next(b for b in at.button if b.label == "Quiz me on this stage").click().run()
    assert not at.exception and at.title[0].value == "Quiz"
    assert at.text_input[0].value == "Classic machine learning"  # the chosen stage, as the quiz's topic


def test_a_click_on_the_map_opens_that_stage(cli_env):
    at = AppTest.from_file(str(REPO / "ui" / "app.py"), default_timeout=60).run()
    at.switch_page("pages/progress.py").run()
    at.session_state["roadmap_map"] = {"selection": {"stage": [{"stage": 12}]}}  # what a click on stage 12 sends
    at.run()
    assert not at.exception
    picker = next(s for s in at.selectbox if s.label == "Open a stage")
    assert picker.value == 12
    next(b for b in at.button if b.label == "Quiz me on this stage").click().run()
    assert at.title[0].value == "Quiz" and at.text_input[0].value == "Interview preparation"
