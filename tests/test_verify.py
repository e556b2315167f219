"""Verification: deterministic checks, the key-check call, positions, and recorded real-model output."""

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from assistant.practice.drafts import McqDraft, ShortDraft, TrueFalseDraft, schema_of
from assistant.practice.interview import InterviewService
from assistant.practice.models import Citation, InterviewSet, Question, Quiz, stable_id
from assistant.practice.quiz import QuizRequest, QuizService
from assistant.practice.sources import about_the_subject, stands_alone
from assistant.practice.structured import parse_json_object
from assistant.practice.verify import (
    KeyChecker,
    Positions,
    arrange,
    evidence_in,
    grounding,
    same_option_key,
    stated_in,
    stem_and_key,
    tidy_options,
    verify_draft,
)
from assistant.rag.retrieval import RetrievedChunk
from assistant.roadmap import Roadmap
from assistant.services import Tutor
from tests.fixtures.practice.replay import RECORDED, ReplayChatModel, ReplayRetriever, accounted, load

SOURCE = (
    "## Regularisation\n\nRegularisation adds a penalty on large weights to the loss so that the model prefers "
    "simpler solutions.\nL1 regularisation (lasso) pushes some weights to exactly zero and so selects features. "
    "L2 regularisation (ridge) shrinks all weights smoothly towards zero."
)
ANCHOR = "L1 regularisation (lasso) pushes some weights to exactly zero and so selects features."


def mcq(
    question="Which penalty can set some weights to exactly zero?",
    correct="L1 regularisation",
    wrong=("L2 regularisation", "Dropout", "Early stopping"),
) -> McqDraft:
    return McqDraft(question=question, correct_answer=correct, wrong_answers=list(wrong))


def accepted_question(stem: str, answer: str, chunk_id: str = "c1") -> Question:
    return Question(
        id="q",
        type="mcq",
        stem=stem,
        options=[answer, "x", "y", "z"],
        answer_index=0,
        answer=answer,
        explanation="",
        citation=Citation(chunk_id=chunk_id, source="s.md", heading_path="S"),
        source_text=SOURCE,
    )


def test_options_that_differ_only_in_an_operator_are_different_options():
    formulas = ["w <- w - lr * dL/dw", "w <- w + lr * dL/dw", "w <- w * lr * dL/dw", "w <- w / lr * dL/dw"]
    assert len({same_option_key(f) for f in formulas}) == 4
    assert same_option_key("Scaling features") == same_option_key("features scaled.")


def test_tidy_options_keeps_three_usable_wrong_answers_closest_in_length_to_the_key():
    draft = mcq(
        correct="L1 regularisation",
        wrong=(
            "All of the above",
            "L2 regularisation",
            "Dropout on the hidden layers of the network",
            "Early stopping",
        ),
    )
    tidy = tidy_options(draft)
    assert tidy is not None and tidy.wrong_answers == [
        "L2 regularisation",
        "Dropout on the hidden layers of the network",
        "Early stopping",
    ]
    longer = mcq(correct="L1", wrong=("L2", "a much longer option than any other", "Dropout", "ridge"))
    assert tidy_options(longer).wrong_answers == ["L2", "Dropout", "ridge"]  # type: ignore[union-attr]
    assert tidy_options(mcq(wrong=("Both", "L1 regularisation", "Dropout"))) is None  # one usable of three
    assert tidy_options(mcq(wrong=("None of these", "l1 regularisations", "Dropout", "Ridge"))) is None


def test_wrong_answers_the_key_sentence_states_are_left_out():
    # a real draft from llama.cpp's server on the 1.5B model (MLOps): two "wrong" answers are in the sentence
    sentence = (
        "MLOps is the set of practices that turn a trained model into a dependable service: packaging it, "
        "shipping it through automated checks, recording how it was made, and watching it in production."
    )
    draft = mcq(
        question="What is the main goal of MLOps?",
        correct="turn a trained model into a dependable service",
        wrong=(
            "make a model in a notebook help nobody",
            "ship it through automated checks",
            "record how it was made",
            "watch it in production and refresh it when the world changes",
        ),
    )
    assert tidy_options(draft, sentence=sentence) is None  # two of four left: not a question to show
    assert stated_in("shipping it through automated checks", sentence)
    assert not stated_in("L2", "L1 pushes weights to zero, while L2 shrinks them")  # one word: not judged
    assert not stated_in("train on the test set", sentence)


def test_wrong_answers_the_keys_own_sentence_states_are_left_out_when_the_anchor_is_another():
    # the audit (regularisation, 1.5B model): drafted on the weight-decay sentence, keyed from batch norm's
    batch_norm = (
        "Batch normalisation: normalises each feature over the mini-batch, then applies a learned scale and shift; "
        "it stabilises training, permits higher learning rates and uses running averages at inference."
    )
    anchor = "Weight decay: shrinks weights towards zero every step."
    chunk = RetrievedChunk(id="c1", text=f"{anchor}\n{batch_norm}", score=0.5, source="s.md", doc_id="s", title="DL",
                           heading="DL", heading_path="DL")  # fmt: skip
    draft = mcq(
        question="What does batch normalisation do after normalising each feature?",
        correct="applies a learned scale and shift",
        wrong=("permits higher learning rates", "stabilises training", "drops random units", "clips the gradient"),
    )
    assert QuizService._verify(draft, anchor, chunk, [])[1] == "ambiguous-options"  # two of four were true
    wrong = ["permits higher learning rates", "drops random units", "clips the gradient", "adds noise to the labels"]
    three = draft.model_copy(update={"wrong_answers": wrong})
    tidy, reason, evidence = QuizService._verify(three, anchor, chunk, [])
    assert reason is None and evidence == batch_norm
    assert isinstance(tidy, McqDraft) and "permits higher learning rates" not in tidy.wrong_answers


def test_a_key_much_longer_than_every_wrong_answer_is_dropped_as_a_giveaway():
    long_key = "Derivatives, partial derivatives, the gradient, the chain rule and the Jacobian"
    draft = mcq(
        question="Which ideas of calculus does ML use?",
        correct=long_key,
        wrong=("Logarithms", "Trigonometry", "Complex numbers"),
    )
    source = f"{long_key} are the parts of calculus machine learning uses."
    assert verify_draft(draft, source, source, "c1", [])[0] == "key-stands-out"
    similar = mcq(correct="L1 regularisation", wrong=("L2", "Dropout", "Early stopping"))
    assert verify_draft(similar, ANCHOR, SOURCE, "c1", [])[0] is None  # short options may differ in length


def test_a_statement_key_among_term_distractors_is_dropped():
    # recorded on the 1.5B model (gradient descent): the one clause among three terms, and it is false
    source = (
        "On a convex loss any minimum gradient descent finds is a global one. Stochastic and mini-batch gradient "
        "descent, momentum and Adam are variants."
    )
    draft = mcq(
        question="Which of the following statements is true about gradient descent?",
        correct="any minimum gradient descent finds is a global one",
        wrong=("stochastic and mini-batch gradient descent", "momentum", "Adam"),
    )
    assert verify_draft(draft, source, source, "c1", []) == ("options-mixed-kind", source)
    clauses = mcq(
        question="How does C relate to regularisation strength in LogisticRegression?",
        correct="C is the inverse of the regularisation strength",
        wrong=("C is the regularisation strength", "C has no effect on it", "C is fixed for all models"),
    )
    text = "In LogisticRegression, C is the inverse of the regularisation strength."
    assert verify_draft(clauses, text, text, "c1", [])[0] is None  # all clauses: the same kind


def test_tidy_options_prefers_wrong_answers_of_the_keys_kind():
    draft = mcq(correct="L1 regularisation", wrong=("it is always better", "L2", "Dropout", "Early stopping"))
    tidy = tidy_options(draft)
    assert tidy is not None and tidy.wrong_answers == ["L2", "Dropout", "Early stopping"]


def test_a_key_that_repeats_the_stems_words_is_found_without_the_source():
    # recorded on the 1.5B model (gradient descent): the blind check picks the key from the stem's wording
    draft = mcq(
        question="Why do initialisation and learning-rate schedules matter in deep networks with non-convex losses?",
        correct="non-convex losses",
        wrong=("overfitting", "underfitting", "regularization"),
    )
    source = "Deep networks have non-convex losses, so initialisation and learning-rate schedules matter."
    assert verify_draft(draft, source, source, "c1", [])[0] == "key-echoes-stem"
    one_word = mcq(question="Which penalty, not L2, sets some weights to exactly zero?")
    assert verify_draft(one_word, ANCHOR, SOURCE, "c1", [])[0] != "key-echoes-stem"  # one shared word is no clue


def test_a_question_about_another_sentence_than_its_evidence_is_dropped():
    # the audit (feature engineering, 1.5B model): asked about sine/cosine encoding, keyed from the binning sentence
    source = (
        "Encode cyclical values with sine and cosine so that 23:00 sits next to 00:00. Binning: age bands or "
        "quantile bins (KBinsDiscretizer) let linear models capture non-linear effects."
    )
    draft = mcq(
        question="What is the purpose of encoding cyclical values with sine and cosine in feature engineering?",
        correct="to capture non-linear effects",
        wrong=("to improve model performance", "to create new features", "to reduce dimensionality"),
    )
    binning = source.split(". ", 1)[1]
    assert verify_draft(draft, binning, source, "c1", [])[0] == "stem-off-evidence"
    on = mcq(question="How should cyclical values such as the hour be encoded?", correct="with sine and cosine",
             wrong=("with one-hot columns", "with their logarithm", "with polynomial terms"))  # fmt: skip
    assert verify_draft(on, source.split(". ")[0] + ".", source, "c1", [])[0] is None


def test_a_question_about_the_prompt_is_dropped():
    # the audit (feature engineering, 1.5B model)
    draft = mcq(question="Which penalty is mentioned in the key sentence as setting weights to exactly zero?")
    assert verify_draft(draft, ANCHOR, SOURCE, "c1", [])[0] == "about-the-prompt"
    statement = TrueFalseDraft(statement="According to the text, L1 regularisation selects features.", is_true=True)
    assert verify_draft(statement, ANCHOR, SOURCE, "c1", [])[0] == "about-the-prompt"


def test_a_statement_with_an_answer_attached_is_not_a_question():
    statement = mcq(question="L1 regularisation pushes some weights to exactly zero.")
    assert verify_draft(statement, ANCHOR, SOURCE, "c1", [])[0] == "not-a-question"


def test_a_key_from_a_sentence_about_something_else_is_dropped():
    source = "SGD: w <- w - lr * gradient on a mini-batch. Adam adapts each step size. Default learning rate 1e-3."
    wrong = mcq(question="What is the learning rate in SGD?", correct="1e-3", wrong=("0.5", "2e-4", "1e-2"))
    assert verify_draft(wrong, "Default learning rate 1e-3.", source, "c1", [])[0] == "stem-off-evidence"
    both = mcq(
        question="Which penalty, L1 or L2, sets some weights to exactly zero?",
        correct="lasso",
        wrong=("ridge", "dropout", "bagging"),
    )
    assert verify_draft(both, ANCHOR, SOURCE, "c1", [])[0] is None  # one of its named terms is in the evidence


def test_the_sections_own_subject_in_the_question_needs_no_mention_in_the_evidence():
    # a real draft from llama.cpp's server (1.5B): dropped as stem-off-evidence until the heading counted
    anchor = 'Aliases such as champion and challenger let the serving code load "the current production model".'
    draft = mcq(
        question="What feature of MLOps lets the serving code load the current production model?",
        correct="aliases",
        wrong=("hard-coding", "versioning", "auditing"),
    )
    assert verify_draft(draft, anchor, anchor, "c1", [])[0] == "stem-off-evidence"
    assert verify_draft(draft, anchor, anchor, "c1", [], about="MLOps > Model registry")[0] is None


def test_study_plans_and_resource_notes_are_no_question_material_when_the_topic_has_more():
    def chunk(i: int, heading_path: str) -> RetrievedChunk:
        return RetrievedChunk(
            id=f"c{i}", text="text", score=0.5, source="s.md", doc_id="d", title="t", heading="h",
            heading_path=heading_path,
        )  # fmt: skip

    plan, notes, serving = chunk(1, "MLOps > How to study this stage"), chunk(2, "MLOps > Resources"), chunk(3, "MLOps")
    assert about_the_subject([plan, serving, notes]) == [serving]
    assert about_the_subject([plan, notes]) == [plan, notes]  # nothing else: better than no quiz


def test_a_grounded_draft_passes_with_its_key_sentence_as_evidence():
    assert verify_draft(mcq(), ANCHOR, SOURCE, "c1", []) == (None, ANCHOR)


def test_evidence_moves_to_the_sentence_that_states_the_key():
    reason, evidence = verify_draft(
        mcq(
            "Which penalty shrinks every weight smoothly?",
            "L2 regularisation (ridge)",
            ("Lasso penalty", "Dropout layers", "Bagging of trees"),
        ),
        ANCHOR,
        SOURCE,
        "c1",
        [],
    )
    assert reason is None and evidence.startswith("L2 regularisation (ridge) shrinks")


@pytest.mark.parametrize(
    ("draft", "reason"),
    [
        (mcq(wrong=("L2 regularisation", "All of the above", "Dropout")), "ambiguous-options"),
        (mcq(wrong=("L2 regularisation", "None of these", "Dropout")), "ambiguous-options"),
        (mcq(wrong=("L2 regularisation", "Both A and B", "Dropout")), "ambiguous-options"),
        (mcq(wrong=("L1 regularisation.", "Dropout", "Bagging")), "ambiguous-options"),
        (mcq(correct="L1 (lasso)", wrong=("lasso L1", "Dropout", "Bagging")), "ambiguous-options"),
        (mcq(correct="Batch normalisation layers"), "answer-not-in-source"),
        (mcq(question="Does L1 regularisation zero some weights?"), "answer-in-question"),
        (mcq(question="   "), "malformed-question"),
        (mcq(wrong=("L2", "x" * 300, "Dropout")), "malformed-question"),
        (ShortDraft(question="What does lasso do to weights?", answer="It doubles them"), "answer-not-in-source"),
        (TrueFalseDraft(statement="Gradient boosting builds trees in sequence.", is_true=True), "answer-not-in-source"),
    ],
)
def test_bad_drafts_are_dropped_with_a_reason(draft, reason):
    assert verify_draft(draft, ANCHOR, SOURCE, "c1", [])[0] == reason


def test_duplicates_are_dropped():
    draft = mcq()
    same_stem = accepted_question("Which penalty can set some weights exactly to zero?", "Lasso")
    same_key_same_chunk = accepted_question("What selects features by zeroing weights?", "L1 regularisation")
    assert verify_draft(draft, ANCHOR, SOURCE, "c1", [same_stem])[0] == "duplicate"
    assert verify_draft(draft, ANCHOR, SOURCE, "c1", [same_key_same_chunk])[0] == "duplicate"
    assert verify_draft(draft, ANCHOR, SOURCE, "c2", [same_key_same_chunk])[0] is None


def test_false_statements_rest_on_their_key_sentence():
    false = TrueFalseDraft(statement="L1 regularisation pushes some weights to exactly one.", is_true=False)
    assert verify_draft(false, ANCHOR, SOURCE, "c1", []) == (None, ANCHOR)


def test_evidence_and_grounding_helpers():
    assert evidence_in("L1 regularisation (lasso) pushes   some weights to exactly zero", SOURCE)
    assert not evidence_in("Lasso is a kind of neural network layer used for images", SOURCE)
    assert not evidence_in("lasso", SOURCE)  # too short to be evidence
    assert grounding("selects features", SOURCE) == 1.0 and grounding("quantum annealing", SOURCE) == 0.0


def test_positions_are_uniform_and_balanced_in_blocks():
    positions = Positions(random.Random(3))
    drawn = [next(positions) for _ in range(4000)]
    for i in range(0, 4000, 4):
        assert sorted(drawn[i : i + 4]) == [0, 1, 2, 3]
    first = Counter(drawn[::4])  # the first question of each quiz, the most exposed to bias
    assert all(200 <= first[p] <= 300 for p in range(4)), first


def test_arrange_places_the_key_and_keeps_every_option():
    rng = random.Random(1)
    for position in range(4):
        options = arrange("right", ["w1", "w2", "w3"], position, rng)
        assert options[position] == "right" and sorted(options) == ["right", "w1", "w2", "w3"]


def test_key_checker_outcomes(openai_settings, fake_openai):
    checker = KeyChecker(Tutor(openai_settings).llm.for_feature("quiz"))
    question = accepted_question("Which penalty can set some weights to exactly zero?", "L1 regularisation")
    question.citation.evidence = (
        "L1 regularisation (lasso) pushes some weights to exactly zero and so selects features."
    )
    for choice, judgement, expected in [
        ('{"choice": "A"}', '{"verdict": "correct"}', None),
        ('{"choice": "A"}', '{"verdict": "incorrect"}', "key-judged-wrong"),
        ('{"choice": "C"}', '{"verdict": "correct"}', "checker-disagreed"),
        ('{"choice": "none"}', '{"verdict": "correct"}', "checker-found-no-answer"),
        ("I think it is A.", '{"verdict": "correct"}', "check-output-unusable"),
        ('{"choice": "A"}', "Looks right to me.", "check-output-unusable"),
    ]:

        def reply(body, choice=choice, judgement=judgement):
            return judgement if body["response_format"]["json_schema"]["name"] == "KeyJudgement" else choice

        fake_openai.responder = reply
        assert checker.check(question) == expected
    request = fake_openai.requests[0]
    assert request["response_format"]["json_schema"]["schema"]["properties"]["choice"]["enum"][-1] == "none"
    assert "A) L1 regularisation" in request["messages"][-1]["content"]
    judged = fake_openai.requests[1]  # asked only once the checker agreed: the key and its own sentence
    assert judged["response_format"]["json_schema"]["name"] == "KeyJudgement"
    assert "Proposed answer: L1 regularisation" in judged["messages"][-1]["content"]
    assert (
        "<<<L1 regularisation (lasso) pushes some weights to exactly zero and so selects features.>>>"
        in judged["messages"][-1]["content"]
    )
    assert (
        sum(r["response_format"]["json_schema"]["name"] == "KeyJudgement" for r in fake_openai.requests) == 1 + 1 + 2
    )  # the unusable reply is asked twice


KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def section(file: str, start: str, end: str) -> str:
    text = (KNOWLEDGE / file).read_text(encoding="utf-8")
    return text[text.index(start) : text.index(end)]


def test_items_about_a_self_test_line_or_the_roadmaps_outline_are_dropped():
    """Real drafts of the 12-08 audit that passed every other check: a true/false statement made from a
    stage's self-test line (the model wrote about another sentence than its anchor), and a question on the
    roadmap's description of itself."""
    features = section("04-data-handling.md", "- **Encoding categories:**", "## Data leakage")
    statement = TrueFalseDraft(
        statement="Feature engineering involves adding three reasoned features to a tabular dataset and showing "
        "with cross-validation which of them helped.",
        is_true=True,
    )
    anchor = "Aggregates: per-customer counts and means over the last 7 or 30 days."
    assert verify_draft(statement, anchor, features, "c1", [])[0] == "not-quiz-material"

    intro = section("10-advanced-topics.md", "By now you can train", "Responsible AI is the exception")
    stage = mcq(
        "What is the main focus of stage 10 in advanced topics and specialisations?",
        "depth",
        ("training", "ship", "monitor"),
    )
    reason, evidence = verify_draft(stage, "Most ML engineering jobs come with a domain attached.", intro, "c2", [])
    assert reason == "not-quiz-material" and evidence.startswith("By now you can train")


def test_the_roadmaps_outline_is_no_anchor_but_zero_stages_are_a_fact():
    assert not stands_alone("Stage 7 covers the engineering around a pretrained model: how text becomes tokens.")
    assert not stands_alone("Stage 9 is about running ML on rented infrastructure.")
    zero = section("09-cloud-and-scale.md", "ZeRO removes duplicate memory", " DeepSpeed implements ZeRO")
    assert stands_alone(zero + ".")


# -- recorded real-model output ------------------------------------------------------------------
QUIZZES = sorted(p.stem for p in RECORDED.glob("quiz-*.json"))
LABELS = json.loads((RECORDED / "labels.json").read_text()) if (RECORDED / "labels.json").exists() else {}
DRAFTS = {"McqDraft": McqDraft, "TrueFalseDraft": TrueFalseDraft, "ShortDraft": ShortDraft}


def replay_quiz(name: str, tmp_path) -> tuple[dict, Quiz]:
    data = load(name)
    service = QuizService(
        ReplayRetriever(data["searches"]),  # type: ignore[arg-type]
        accounted(ReplayChatModel(data["calls"]), tmp_path),
        roadmap=Roadmap.model_validate(data["roadmap"]),
        min_score=data["min_score"],
        rng=random.Random(data["seed"]),
    )
    return data, service.make(QuizRequest(**data["request"]))


def test_recordings_exist():
    assert "quiz-bias-variance" in QUIZZES and (RECORDED / "interview-junior.json").exists() and LABELS


@pytest.mark.parametrize("name", QUIZZES)
def test_recorded_quiz_replays_to_the_same_verified_quiz(name, tmp_path):
    data, quiz = replay_quiz(name, tmp_path)
    recorded = Quiz.model_validate(data["result"])
    assert [q.model_dump() for q in quiz.questions] == [q.model_dump() for q in recorded.questions]
    assert quiz.drop_reasons == recorded.drop_reasons and quiz.generated == recorded.generated


@pytest.mark.parametrize("name", QUIZZES)
def test_recorded_citations_are_valid_and_keys_supported(name):
    data = load(name)
    chunks = {c["id"]: c for s in data["searches"] for c in s["chunks"]}
    quiz = Quiz.model_validate(data["result"])
    assert quiz.questions
    for q in quiz.questions:
        chunk = chunks[q.citation.chunk_id]  # the citation names a chunk that retrieval returned
        assert (q.citation.source, q.citation.heading_path) == (chunk["source"], chunk["heading_path"])
        assert q.source_text == chunk["text"] and evidence_in(q.citation.evidence, chunk["text"])
        if q.type == "mcq":
            assert len(set(q.options)) == 4 and q.options[q.answer_index] == q.answer
            assert grounding(q.answer, q.citation.evidence) >= 0.5
        label = LABELS.get(q.id)
        assert label is not None, f"label {q.id} in recorded/labels.json: {q.stem} -> {q.answer}"
        # a wrong key that verification lets through fails the test unless it is tracked in an open issue
        assert label["supported"] or label.get("tracked"), f"an accepted key was judged unsupported by a human: {label}"


@pytest.mark.parametrize("name", QUIZZES)
def test_recorded_drafts_parse_and_those_judged_wrong_were_dropped(name):
    data = load(name)
    kept = {q["id"] for q in data["result"]["questions"]}
    qtype = data["request"].get("type", "mcq")
    for call in data["calls"]:
        if call["schema"] not in DRAFTS:
            continue
        try:
            draft = parse_json_object(call["text"], DRAFTS[call["schema"]])
        except ValueError:
            continue  # counted as unusable output by the service; the replay test checks the count
        stem, key = stem_and_key(draft)
        label = LABELS.get(stable_id(qtype, stem, key))
        if label is not None and not label["supported"] and not label.get("tracked"):
            assert stable_id(qtype, stem, key) not in kept, label


def test_recorded_key_judgement_drops_a_key_beside_a_better_wrong_answer(tmp_path):
    """The audit's 'two plausible' item, drafted again on recording: the checker picked the source's option
    ('non-convex losses') and only the key judgement saw that 'local minima' answers the question as well."""
    data, quiz = replay_quiz("quiz-gradient-descent", tmp_path)
    assert quiz.drop_reasons.get("key-judged-wrong") == 1
    assert all("learning-rate schedules" not in q.stem for q in quiz.questions)
    judged = [c for c in data["calls"] if c["schema"] == "KeyJudgement" and '"incorrect"' in c["text"]]
    assert ["Proposed answer: non-convex losses" in c["messages"][-1]["content"] for c in judged] == [True]


def test_recorded_interview_is_grounded_with_a_mock_round_trip(tmp_path):
    data = load("interview-junior")
    made = InterviewSet.model_validate(data["result"])
    chunks = {c["id"]: c for s in data["searches"] for c in s["chunks"]}
    assert made.questions and made.level == "junior"
    for q in made.questions:
        assert q.sources and all(s.chunk_id in chunks for s in q.sources) and len(q.rubric) >= 2
        assert all(max(grounding(p, t) for t in q.source_texts) >= 0.5 for p in q.rubric)
    feedback = data["mock"]["feedback"]
    assert feedback["follow_up"] and feedback["sources"] and 0 <= feedback["score"] <= 1
    service = InterviewService(
        ReplayRetriever(data["searches"]),  # type: ignore[arg-type]
        accounted(ReplayChatModel(data["calls"]), tmp_path),
        roadmap=Roadmap.model_validate(data["roadmap"]),
        min_score=data["min_score"],
        rng=random.Random(data["seed"]),
    )
    again = service.generate(**data["request"])
    assert [q.model_dump() for q in again.questions] == [q.model_dump() for q in made.questions]
    assert service.feedback(again.questions[0], data["mock"]["answer"]).model_dump(mode="json") == feedback
    # the recorded answer states rubric point 1 nearly word for word; the model missed it, the check does not
    assert feedback["covered"] == [made.questions[0].rubric[0]] and feedback["score"] > 0


def test_draft_schemas_are_flat_for_the_grammar():
    for model in DRAFTS.values():
        schema = schema_of(model)
        assert "$defs" not in schema and schema["required"] == list(schema["properties"])
