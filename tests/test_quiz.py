"""Quiz generation from retrieved chunks, against the fake server: grounding, positions, failures, CLI, page."""

import json
import random
from collections import Counter

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from assistant.errors import TutorError
from assistant.practice.models import LETTERS
from assistant.practice.quiz import QuizRequest, anchors
from assistant.practice.sources import NothingRelevantError, about_the_subject, neighbouring_material
from assistant.rag.retrieval import RetrievedChunk
from tests.conftest import REPO
from tests.fixtures.practice.fake_model import PracticeModel
from tests.fixtures.practice.helpers import env_for, practice_settings, practice_tutor
from ui.cli import app

CHI2_DF3_P001 = 16.27  # chi-square critical value, 3 degrees of freedom, p = 0.001


@pytest.fixture
def model(fake_openai):
    m = PracticeModel()
    fake_openai.responder = m
    return m


@pytest.fixture
def settings(make_settings, fake_openai):
    return practice_settings(make_settings, fake_openai)


@pytest.fixture
def tutor(settings, embedder, model):
    return practice_tutor(settings, embedder)


def test_questions_come_from_retrieved_chunks_with_valid_citations(tutor, fake_openai):
    quiz = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=3))
    assert len(quiz.questions) == 3 and quiz.dropped == 0
    stored = tutor.collection.get(ids=list({q.citation.chunk_id for q in quiz.questions}), include=["documents"])
    texts = dict(zip(stored["ids"], stored["documents"], strict=True))
    for q in quiz.questions:
        assert q.citation.chunk_id in texts and texts[q.citation.chunk_id] == q.source_text
        assert q.citation.source.endswith("05-classic-ml.md")
        assert " ".join(q.citation.evidence.split()) in " ".join(q.source_text.split())
        assert len(q.options) == 4 and len(set(q.options)) == 4
        assert q.options[q.answer_index] == q.answer and q.answer.lower() in q.source_text.lower()
    assert quiz.questions[0].citation.heading_path.endswith("Bias-variance trade-off")
    assert quiz.questions[0].topic == "bias-variance-trade-off" and quiz.questions[0].stage == 5
    drafts = [r for r in fake_openai.requests if r["response_format"]["json_schema"]["name"] == "McqDraft"]
    assert drafts and "wrong_answers" in drafts[0]["response_format"]["json_schema"]["schema"]["properties"]
    system, user = drafts[0]["messages"]
    assert "not instructions" in system["content"]
    assert "<<<" in user["content"] and quiz.questions[0].source_text.strip() in user["content"]


def test_every_question_is_checked_by_a_separate_call(tutor, fake_openai):
    quiz = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=3))
    checks = [r for r in fake_openai.requests if r["response_format"]["json_schema"]["name"] == "McqCheck"]
    assert len(checks) >= len(quiz.questions) == 3
    for q in quiz.questions:
        prompts = [c["messages"][-1]["content"] for c in checks if q.stem in c["messages"][-1]["content"]]
        assert prompts and all(f") {option}" in prompts[0] for option in q.options)
        assert q.source_text.strip() in prompts[0]  # checked against the cited chunk alone
    assert quiz.usage.calls == len(fake_openai.requests)


def test_correct_position_is_uniform_over_many_quizzes(tutor, model):
    """The fake model always writes the key first; positions must still be uniform over A-D."""
    model.refuse_letter = "A"  # a checker biased against A must not skew which positions survive
    counts: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for seed in range(40):
        model.used.clear()  # the fake picks fresh key words for each quiz
        tutor.quizzes.rng = random.Random(seed)
        quiz = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=5))
        letters = [q.key for q in quiz.questions]
        assert len(set(letters[:4])) == len(letters[:4])  # balanced within a quiz: one block of A-D
        counts.update(letters)
        dropped.update(quiz.drop_reasons)
    total = sum(counts.values())
    assert total >= 150 and dropped["checker-found-no-answer"] > 20  # the bias was really at work
    chi2 = sum((counts[c] - total / 4) ** 2 / (total / 4) for c in LETTERS)
    assert chi2 < CHI2_DF3_P001, counts


def test_topic_with_nothing_relevant_suggests_topics_and_makes_no_call(tutor, fake_openai):
    with pytest.raises(NothingRelevantError) as err:
        tutor.quizzes.plan(QuizRequest(topic="banana bread recipes with walnuts", n=3))
    message = str(err.value)
    assert "Nothing in the roadmap index is relevant" in message and "try a roadmap topic such as" in message
    titles = {"Bias-variance trade-off", "Regularisation", "Cross-validation", "Python basics", "Data handling"}
    assert any(f"'{t}'" in message for t in titles | {"ML system design round", "Behavioural round"})
    assert fake_openai.requests == []


def test_malformed_output_is_repaired_by_retry(tutor, model, fake_openai):
    model.broken = 1
    quiz = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=1))
    assert len(quiz.questions) == 1 and quiz.dropped == 0
    retry = fake_openai.requests[1]["messages"]
    assert retry[-1]["role"] == "user" and "not usable" in retry[-1]["content"]


def test_a_question_that_gives_its_answer_away_is_repaired_once(tutor, model, fake_openai):
    model.giveaways = 1
    quiz = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=1))
    assert len(quiz.questions) == 1 and quiz.dropped == 0 and quiz.generated == 1
    repair = fake_openai.requests[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "gives its answer away" in repair[-1]["content"]
    assert quiz.questions[0].answer.lower() not in quiz.questions[0].stem.lower()


def test_a_giveaway_that_stays_is_dropped_with_its_reason(tutor, model):
    model.giveaways = 2
    quiz = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=1))
    assert quiz.drop_reasons == {"answer-in-question": 1} and len(quiz.questions) == 1


def test_a_catch_all_wrong_answer_is_left_out_not_the_question(tutor, model, fake_openai):
    model.catch_all = True
    quiz = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=2))
    assert len(quiz.questions) == 2 and quiz.dropped == 0
    for q in quiz.questions:
        assert len(q.options) == 4 and not any("all of the above" in o.lower() for o in q.options)


def test_output_that_stays_malformed_ends_in_a_clear_error(tutor, model):
    model.invalid = 1000
    with pytest.raises(TutorError, match=r"No question about .* passed verification") as err:
        tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=2))
    assert "unusable-output" in str(err.value) and err.value.fix


def test_true_false_and_short_answer_quizzes(tutor):
    tf = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=4, type="true-false"))
    assert {q.answer for q in tf.questions} == {"True", "False"}
    assert all(q.options == ["True", "False"] for q in tf.questions)
    short = tutor.quizzes.make(QuizRequest(topic="regularisation", n=2, type="short"))
    assert all(not q.options and q.answer.lower() in q.source_text.lower() for q in short.questions)


def test_true_false_keys_stay_balanced_when_the_model_writes_only_true_statements(tutor, model):
    """The audit: 19 of 20 true/false items were keyed True, so answering "True" always scored 95%."""
    model.only_true = 4
    tf = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=4, type="true-false"))
    keys = [q.answer for q in tf.questions]
    assert keys.count("True") == 2 and keys.count("False") == 2
    assert tf.drop_reasons.get("true-false-balance", 0) >= 1  # a true draft past two was not kept


def test_a_model_that_writes_only_true_statements_still_fills_the_quiz_and_says_so(tutor, model):
    model.only_true = 99
    tf = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=2, type="true-false"))
    assert [q.answer for q in tf.questions] == ["True", "True"]
    assert "Most statements are true" in tf.note and "  " not in tf.note
    assert tf.dropped == tf.drop_reasons["true-false-balance"]  # the spare put back is no longer a drop


def test_a_stage_without_a_topic_quizzes_that_stage(tutor):
    quiz = tutor.quizzes.make(QuizRequest(stage=1, n=2))
    assert all(q.stage == 1 for q in quiz.questions)
    with pytest.raises(TutorError, match="no roadmap stage 9"):
        tutor.quizzes.plan(QuizRequest(stage=9, n=2))


@pytest.fixture
def cli_env(monkeypatch, settings, fake_openai, tmp_path, embedder, model):
    practice_tutor(settings, embedder)  # ingest
    monkeypatch.chdir(tmp_path)
    for key, value in env_for(settings, fake_openai).items():
        monkeypatch.setenv(key, value)
    return settings


def test_cli_quiz_asks_scores_and_records(cli_env, fake_openai):
    # Q1: "Z" is refused and asked again, then left empty (a miss); Q2: answered "A".
    result = CliRunner().invoke(app, ["quiz", "--topic", "bias-variance trade-off", "--n", "2"], input="Z\n\nA\n")
    assert result.exit_code == 0, result.output
    assert "Estimate for quiz on 'bias-variance trade-off'" in result.output
    assert "2 verified question(s)" in result.output
    assert "not one of the options" in result.output
    assert "score:" in result.output and "05-classic-ml.md" in result.output
    from assistant.practice.progress import ProgressStore

    attempts = ProgressStore(cli_env.progress_path, "default").attempts()
    assert [a.response for a in attempts] == ["A", ""]  # newest first
    assert {a.kind for a in attempts} == {"quiz"} and not attempts[1].correct
    assert all(a.topic == "bias-variance-trade-off" and a.stage == 5 for a in attempts)


def test_cli_quiz_stops_cleanly_when_input_ends(cli_env):
    result = CliRunner().invoke(app, ["quiz", "--topic", "bias-variance trade-off", "--n", "2"], input="B\n")
    assert result.exit_code == 0 and "quiz stopped; answers so far are saved" in result.output
    from assistant.practice.progress import ProgressStore

    assert len(ProgressStore(cli_env.progress_path, "default").attempts()) == 1


def test_cli_quiz_json_prints_estimate_on_stderr(cli_env):
    result = CliRunner().invoke(app, ["quiz", "--topic", "cross-validation", "--n", "1", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["questions"][0]["citation"]["source"].endswith("05-classic-ml.md")
    assert "Estimate for quiz" in result.stderr and "Estimate" not in result.stdout


def test_cli_max_cost_aborts_before_any_call(cli_env, fake_openai):
    result = CliRunner().invoke(
        app, ["quiz", "--topic", "cross-validation", "--n", "5", "--max-cost", "0.0000001", "--json"]
    )
    assert result.exit_code == 2
    assert "over --max-cost" in result.stderr and "nothing was sent" in result.stderr
    # per multiple-choice question: a key check and a key judgement
    assert "question drafts: 5 calls" in result.stderr and "key checks: 10 calls" in result.stderr
    assert fake_openai.requests == []


def test_cli_unknown_topic_is_one_line_error(cli_env, fake_openai):
    result = CliRunner().invoke(app, ["quiz", "--topic", "medieval falconry techniques", "--json"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Nothing in the roadmap index") and "Traceback" not in result.output
    assert fake_openai.requests == []


def test_quiz_page_generates_grades_and_records(cli_env, fake_openai):
    at = AppTest.from_file(str(REPO / "ui" / "pages" / "quiz.py"), default_timeout=60).run()
    assert not at.exception
    at.text_input[0].set_value("bias-variance trade-off")
    at.number_input[0].set_value(2)
    at.button[0].click().run()
    assert not at.exception and len(at.radio) == 2
    assert "2 verified question(s)" in " ".join(c.value for c in at.caption)
    at.radio[0].set_value(0)
    at.radio[1].set_value(1)
    at.button[-1].click().run()
    assert not at.exception
    assert any("Score:" in s.value for s in at.subheader)
    assert "05-classic-ml.md" in " ".join(t.value for t in at.text)
    from assistant.practice.progress import ProgressStore

    assert len(ProgressStore(cli_env.progress_path, "default").attempts()) == 2


def test_quiz_and_grading_calls_are_accounted_under_their_features(tutor, settings):
    from assistant.accounting.ledger import Ledger

    quiz = tutor.quizzes.make(QuizRequest(topic="regularisation", n=1, type="short"))
    tutor.quizzes.grade(quiz.questions[0], "It adds a penalty on large weights.")
    rows = Ledger(settings.ledger_path).rows(kind="chat")
    assert {r.feature for r in rows} == {"quiz", "grading"}
    assert sum(r.feature == "quiz" for r in rows) == quiz.usage.calls


def test_when_a_topics_material_runs_out_the_quiz_widens_to_its_stage_and_says_so(tutor, fake_openai):
    plan = tutor.quizzes.plan(QuizRequest(topic="cross-validation", n=1))
    own = {c.id for c in plan.chunks}
    assert {c.heading for c in plan.chunks} == {"Cross-validation"}
    n = len(anchors(plan.chunks)) + 2
    quiz = tutor.quizzes.generate(plan.model_copy(update={"request": QuizRequest(topic="cross-validation", n=n)}))
    wider = [q for q in quiz.questions if q.citation.chunk_id not in own]
    assert len(quiz.questions) == n and wider
    assert all(q.stage == 5 and q.citation.source.endswith("05-classic-ml.md") for q in wider)
    assert "ran out" in quiz.note and "also drew on" in quiz.note
    assert any(h in quiz.note for h in ("Bias-variance trade-off", "Regularisation"))
    drafts = [
        r["messages"][-1]["content"] for r in fake_openai.requests if "Key sentence:" in r["messages"][-1]["content"]
    ]
    wide = [d for d in drafts if "> Cross-validation" not in d]
    assert wide and all("about cross-validation" not in d for d in wide)  # asked about their own section


def test_widening_leaves_out_study_plans():
    """Seen in the audit (probability widened, 1.5B model): "What is the duration of each week in the study plan?"."""
    from tests.test_flashcards import section

    class Stage2:  # what the index returns for stage 2, the study plan ranked first
        def retrieve(self, query: str, top_k: int, stage: int | None = None) -> list[RetrievedChunk]:
            found = [section("02-mathematics.md", h) for h in ("How to study this stage", "Linear algebra")]
            return [c.model_copy(update={"stage": 2}) for c in found]

    used = [section("02-mathematics.md", "Probability and statistics").model_copy(update={"stage": 2})]
    more, _ = neighbouring_material(Stage2(), "probability", used, roadmap=None)  # type: ignore[arg-type]
    assert [c.heading for c in more] == ["Linear algebra"]


def test_course_and_book_notes_are_no_quiz_material_and_a_chunk_with_no_whole_sentence_gives_no_anchor():
    """The audit (transformers and MLOps, 1.5B model): "What is the quickest route to fine-tuning?" keyed "free
    courses" from the course notes, and "Vision Transformers apply the same idea ..." from a chunk's opening."""
    from tests.test_flashcards import section

    courses = section("13-certifications-courses-books.md", "Courses")
    courses = courses.model_copy(update={"heading_path": "Certifications, courses and books > Courses"})
    attention = section("06-deep-learning.md", "Transformers and attention")
    assert about_the_subject([courses, attention]) == [attention]
    assert about_the_subject([courses]) == [courses]  # asked for courses, courses it is
    leaning = attention.model_copy(update={"id": "vit", "text": "Vision Transformers (ViT) apply the same idea."})
    assert [c.id for c, _ in anchors([leaning, attention])] == [attention.id] * len(anchors([attention]))


def test_a_quiz_that_fits_its_topic_does_not_widen(tutor):
    quiz = tutor.quizzes.make(QuizRequest(topic="cross-validation", n=1))
    assert quiz.note == "" and quiz.questions[0].citation.heading_path.endswith("Cross-validation")
