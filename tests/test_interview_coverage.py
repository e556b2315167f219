"""Rubric points an interview answer states in its own words: labelled pairs on the real MiniLM embedder."""

import pytest

from assistant.practice.coverage import similar_points

RUBRIC = [
    "Watch four layers: service health (latency, errors, throughput), data quality (missing values, schema "
    "changes, out-of-range values), data drift (input distributions shift) and model performance once labels arrive.",
    "Concept drift, where the link between inputs and target changes, only shows up in that last layer; when "
    "labels come late, prediction drift is the early warning.",
    "Evidently and NannyML compute these reports; Prometheus and Grafana handle the service metrics and alerts.",
    "Cross-validation splits the data into k folds and holds each fold out once.",
]
# (answer, the rubric points it covers): paraphrases that name no tool of the rubric, and answers on other things
LABELLED = [
    ("Since labels arrive late, I'd watch the distribution of predictions as an early signal.", {2}),
    ("I'd set up alerts on latency and error rates, with dashboards for the service metrics.", {1, 3}),
    ("I would retrain the model every month on fresh data.", set()),
    ("Gradient descent updates the weights along the negative gradient.", set()),
    ("I would use a learning rate schedule and early stopping.", set()),
]


@pytest.mark.parametrize(("answer", "covers"), LABELLED)
def test_labelled_answers_are_credited_with_the_points_they_state(embedder, answer, covers):
    assert similar_points(embedder, RUBRIC, answer) == covers


def test_the_sound_drift_answer_that_scored_zero_now_earns_credit(embedder):
    """The app's mock interview gave 0% to this answer: it names no tool of the rubric sentences."""
    answer = (
        "I'd compare live feature distributions with the training data using drift tests like PSI or KS. "
        "Labels come late, so I would watch the distribution of the predictions as an early warning. "
        "Alerts fire on latency, error rates and throughput."
    )
    credited = similar_points(embedder, RUBRIC, answer)
    assert {1, 2} <= credited and 4 not in credited


def test_nothing_to_compare_is_no_credit(embedder):
    assert similar_points(embedder, RUBRIC, "") == set() and similar_points(embedder, [], "An answer.") == set()


def test_repeating_the_question_earns_nothing(embedder):
    question = "How would you watch data drift and service health in production?"
    assert (
        similar_points(embedder, RUBRIC, "How would you watch data drift and service health in production?", question)
        == set()
    )
