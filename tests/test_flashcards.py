"""Flashcards: backs are roadmap sentences that stand alone, fronts are checked, cards join the review schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from assistant.practice.anki import fields_of
from assistant.practice.flashcards import FlashcardRequest, front_problem, statements
from assistant.practice.progress import rated_attempt
from assistant.rag.retrieval import RetrievedChunk
from tests.conftest import REPO
from tests.fixtures.practice.fake_model import PracticeModel
from tests.fixtures.practice.helpers import env_for, practice_settings, practice_tutor
from ui.cli import app


def section(doc: str, heading: str) -> RetrievedChunk:
    """A section of the real roadmap as a chunk (up to the next heading of the same level)."""
    text = (REPO / "knowledge" / doc).read_text()
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else None]
    return RetrievedChunk(
        id=heading, text=body, score=0.5, source=doc, doc_id=doc, title=doc, heading=heading,
        heading_path=f"{doc} > {heading}", stage=8,
    )  # fmt: skip


def test_backs_are_whole_sentences_that_stand_alone():
    monitoring = section("08-mlops-and-deployment.md", "Monitoring drift and decay")
    serving = section("08-mlops-and-deployment.md", "Serving models behind an API")
    transformers = RetrievedChunk(
        id="t", source="d.md", doc_id="d", title="DL", heading="Transformers", heading_path="DL > Transformers",
        score=0.5, text="Each token produces query, key and value vectors, and\n\n    Attention(Q, K, V) = "
        "softmax(Q K^T / sqrt(d_k)) V\n\nso every token weighs every other token in one parallel step. Vision "
        "Transformers (ViT) apply the same idea to 16x16 image patches.",
    )  # fmt: skip
    backs = [s for _, s in statements([monitoring, serving, transformers])]
    joined = "\n".join(backs)
    assert any(b.startswith("Use a Kolmogorov-Smirnov test for continuous features") for b in backs)
    assert any(b.startswith("Judge latency by percentiles (p50, p95, p99)") for b in backs)
    # seen as cards that meant nothing alone, on the embedded model:
    assert "compute these reports" not in joined  # "these": the reports of the sentence before
    assert "caching lower them" not in joined  # "them": latency and throughput, named before
    assert "only shows up in that last layer" not in joined
    assert "You know it when" not in joined  # a stage's self-check, not a fact
    assert "vectors, and" not in joined and "so every token weighs" not in joined  # pieces cut by a formula
    assert "the same idea" not in joined


def test_quiz_key_sentences_skip_self_checks_too():
    """The audit's "correct way to compute the gradient ... by hand" came from a stage's self-check line."""
    from assistant.practice.quiz import anchors

    where = section("02-mathematics.md", "Calculus and optimisation")
    sentences = [s for _, s in anchors([where])]
    assert sentences and not any(s.startswith("You know it when") for s in sentences)
    assert any(s.startswith("Gradient descent repeats one update") for s in sentences)


def test_a_worked_examples_set_up_is_no_key_sentence():
    """The audit (probability, 1.5B model): "Suppose ... 'prize' appears in 60% of spam" became a true/false
    item stating made-up numbers as fact, and "Then P(spam | 'prize') = ... = 0.75" a question without its givens."""
    from assistant.practice.quiz import anchors

    where = section("02-mathematics.md", "Probability and statistics")
    sentences = [s for _, s in anchors([where])]
    assert sentences and not any(s.startswith(("Suppose", "Then")) for s in sentences)
    assert any(s.startswith("Bayes' theorem") for s in sentences)


@pytest.mark.parametrize(
    ("front", "back", "problem"),
    [  # fronts the embedded model wrote (qwen2.5-coder-1.5b), and the faults a front can have
        (
            "What is the purpose of using aliases like champion and challenger in MLOps for model deployment?",
            'Aliases such as champion and challenger let the serving code load "the current production model" '
            "without hard-coding a version, and promotion becomes an auditable step.",
            None,
        ),
        (
            "What is the main difference between online serving and batch scoring in MLOps?",
            "Online serving answers one request at a time with a tight latency target; batch scoring runs on a "
            "schedule over a whole table and writes predictions back.",
            None,
        ),
        (
            "Use a Kolmogorov-Smirnov test for continuous features and chi-squared for categorical ones?",
            "Use a Kolmogorov-Smirnov test for continuous features and chi-squared for categorical ones.",
            "gives-it-away",
        ),
        (
            "Which statistical tests does the statement recommend for drift?",
            "Use a Kolmogorov-Smirnov test for continuous features and chi-squared for categorical ones.",
            "about-the-prompt",
        ),
        (
            "Drift tests for features.",
            "Use a Kolmogorov-Smirnov test for continuous features and chi-squared for categorical ones.",
            "not-a-question",
        ),
        (
            "What is the capital of France?",
            "Use a Kolmogorov-Smirnov test for continuous features and chi-squared for categorical ones.",
            "off-the-statement",
        ),
    ],
)
def test_fronts_are_checked(front, back, problem):
    assert front_problem(front, back) == problem


@pytest.fixture
def tutor(make_settings, fake_openai, embedder):
    fake_openai.responder = PracticeModel()
    return practice_tutor(practice_settings(make_settings, fake_openai), embedder)


def test_cards_are_sourced_join_the_schedule_due_now_and_are_reviewed_and_exported(tutor, fake_openai):
    fake_openai.responder.copy_fronts = 1  # the first front restates its back: dropped, another is drafted
    deck = tutor.flashcards.make(FlashcardRequest(topic="regularisation", n=2))
    assert len(deck.cards) == 2 and deck.drop_reasons == {"gives-it-away": 1} and deck.generated == 3
    for card in deck.cards:
        assert card.type == "flashcard" and card.stem.endswith("?")
        assert card.answer in " ".join(card.source_text.split())  # the back is the roadmap sentence, verbatim
        assert card.citation.evidence == card.answer
    assert fake_openai.responder.calls["FlashcardDraft"] == 3
    assert {r.feature for r in tutor.ledger.rows()} >= {"flashcards"}

    store = tutor.progress
    now = datetime.now(UTC)
    assert store.add_cards(deck.cards, now=now) == 2
    assert store.add_cards(deck.cards, now=now) == 0  # made again: the cards keep their schedule
    due = store.due(now + timedelta(seconds=1))
    assert sorted(d.item_id for d in due) == sorted(c.id for c in deck.cards)
    assert store.topic_mastery() == []  # a card not yet reviewed says nothing about mastery
    store.record(rated_attempt(due[0], "good", ""), now=now + timedelta(seconds=2))
    assert store.due_at(due[0].item_id) > now + timedelta(minutes=5)
    assert [t.items for t in store.topic_mastery()] == [1]
    front, back, source, _topic = fields_of(next(i for i in store.items() if i.item_id == due[0].item_id))
    assert front.endswith("?") and back.startswith(due[0].payload["answer"][:20]) and "05-classic-ml.md" in source


def test_flashcards_command_makes_cards_and_review_asks_them(tutor, fake_openai, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key, value in env_for(tutor.settings, fake_openai).items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    made = runner.invoke(app, ["flashcards", "--topic", "regularisation", "--n", "2", "--json"])
    assert made.exit_code == 0, made.output
    deck = json.loads(made.stdout)
    assert len(deck["cards"]) == 2 and "2 new in your review schedule, due now" in made.stderr
    review = runner.invoke(app, ["review"], input="\ng\n\nx\na\n")  # Enter, good; Enter, a wrong key, again
    assert review.exit_code == 0, review.output
    assert deck["cards"][0]["answer"] in review.output and "type a, h, g or e." in review.output
    assert review.output.count("next time: in") == 2
    assert [d.item_id for d in tutor.progress.due(datetime.now(UTC) + timedelta(minutes=2))] == [
        deck["cards"][1]["id"]
    ]  # "again" brings the second back within minutes; "good" sends the first further out


def test_flashcards_need_a_topic(tutor, fake_openai, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key, value in env_for(tutor.settings, fake_openai).items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["flashcards"])
    assert result.exit_code == 2 and "Flashcards need a topic" in result.output


def test_review_page_makes_flashcards_and_reviews_one(tutor, fake_openai, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.chdir(tmp_path)
    for key, value in env_for(tutor.settings, fake_openai).items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(REPO / "ui" / "pages" / "review.py"), default_timeout=60).run()
    assert not at.exception and any("Nothing is due" in i.value for i in at.info)
    at.text_input(key="flashcard_topic").set_value("regularisation")
    at.number_input(key="flashcard_n").set_value(2)
    next(b for b in at.button if b.label == "Make flashcards").click().run()
    assert not at.exception
    assert any("2 new flashcard(s) on regularisation are due now." in s.value for s in at.success)
    assert any(m.value.startswith("**What does the roadmap teach") for m in at.markdown)  # a card's front
    next(b for b in at.button if b.label == "Show the answer").click().run()
    back = " ".join(i.value for i in at.info)
    assert back.startswith("Answer: ") and any(c.value.startswith("From the roadmap: ") for c in at.caption)
    next(b for b in at.button if b.label == "Good").click().run()
    assert not at.exception and any("Rated good: next review in" in s.value for s in at.success)
    assert len(tutor.progress.due()) == 1  # the other card is still due
