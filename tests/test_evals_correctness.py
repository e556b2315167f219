"""The judge-free correctness metric: key facts found and wrong claims stated, sentence by sentence."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.text import content_words, negated, numbers, sentences
from evals.calibration import accuracy, case_accuracy, fit_matcher, golden_by_id, load_pairs, matcher_cases
from evals.correctness import FactMatcher, MatcherParams, candidates, matcher_for
from evals.suite import Suite

SUITE = Suite.load()
LORA_FACT = "For a 4096 x 4096 matrix at r = 8, LoRA trains 65,536 values instead of 16.8 million."
SPLIT_CLAIM = "Use a random train_test_split with test_size=0.2 and random_state=42 for forecasting or per-user data."
SPLIT_QUESTION = "How should I split my data if I'm forecasting future values or if each user has many rows?"


@pytest.fixture(scope="module")
def matcher(embedder: Any) -> FactMatcher:
    return matcher_for(SUITE.corpus, embedder)


def test_text_helpers():
    text = "Use GroupKFold [1]. It keeps users apart.\n- Never split randomly [2].\n1. Scale after."
    said = [s for s in sentences(text) if content_words(s)]  # a bare list number may stand alone: no words
    assert said == ["Use GroupKFold.", "It keeps users apart.", "Never split randomly.", "Scale after."]
    assert numbers("65,536 values instead of 16.8 million [3], rank 8.0") == {"65536", "16.8", "8"}
    assert negated("Do not fit the scaler on test data") and not negated("Fit the scaler on training data")
    assert not negated("It is not only fast but never slow")  # two cues cancel out
    assert candidates("A. B. C.") == ["A.", "B.", "C.", "A. B.", "B. C."]


def test_the_committed_matcher_agrees_with_the_labelled_cases(matcher):
    """The committed parameters (evals/calibration/matcher.json) still give the accuracy they were fitted
    to on the labelled pairs and the labelled recorded answers: a changed pair set, golden set or metric code
    that moves it needs `tutor evals calibrate --fit-matcher --no-judge`."""
    cases = matcher_cases(matcher, load_pairs(), golden_by_id(SUITE.root))
    assert len(cases) >= 1000
    measured = case_accuracy(cases, matcher.params)
    assert measured == pytest.approx(matcher.params.accuracy, abs=0.005)
    assert measured["fact"] >= 0.85 and measured["wrong_claim/recorded"] >= 0.9
    # on real answers, a wrong claim is flagged where the reader did not see it at most once in ~100 claims
    # (today: classic-ml-01, "Ranking: ROC-AUC." read as "ROC-AUC is the best metric when positives are rare")
    recorded = [c for c in cases if c.source == "recorded"]
    assert len(recorded) >= 90
    assert len([c for c in recorded if c.predicted(matcher.params) and not c.label]) <= 1


def test_a_paraphrase_is_found_and_a_changed_number_is_not(matcher):
    good = "LoRA trains about 65,536 values for a 4096 x 4096 matrix at rank r = 8, instead of 16.8 million [2]."
    bad = "For a 4096 x 4096 weight matrix, LoRA shrinks the number of trainable values by a factor of 8 [2]."
    assert matcher.check(good, [LORA_FACT], [], declined=False).recall == 1.0
    found = matcher.check(bad, [LORA_FACT], [], declined=False)
    assert found.recall == 0.0 and found.missed == [LORA_FACT]


def test_other_figures_for_a_key_fact_count_as_wrong(matcher):
    fact = "Spot or preemptible instances are often 60-90% cheaper than on-demand ones."
    wrong = "Spot instances are often 10-20% cheaper than on-demand instances, so checkpoint often [1]."
    right = "Spot instances can be 60-90% cheaper; checkpoint often so an interruption costs minutes [1]."
    assert matcher.check(wrong, [fact], [], declined=False).wrong == 1.0
    assert matcher.check(right, [fact], [], declined=False).wrong == 0.0


def test_a_wrong_claim_is_caught_and_its_correct_counterpart_is_not(matcher):
    wrong = (
        "To split your data for forecasting or when each user has many rows, use train_test_split with a "
        "test size of 0.2 and a random state of 42 [1]."
    )
    right = "For forecasting, split by time: train on the past and validate on the next period [1]."
    negated_claim = "Never use a random train_test_split with random_state=42 for forecasting or per-user data [1]."
    for answer, expected in ((wrong, 1.0), (right, 0.0), (negated_claim, 0.0)):
        found = matcher.check(answer, [], [SPLIT_CLAIM], declined=False, question=SPLIT_QUESTION)
        assert found.wrong == expected, answer


def test_a_decline_conveys_nothing(matcher):
    found = matcher.check("The roadmap does not cover this.", [LORA_FACT], ["LoRA is slow."], declined=True)
    assert found.recall == 0.0 and found.wrong == 0.0


def test_fitting_is_at_least_as_good_as_fixed_defaults(embedder):
    """The fit searches the parameters; on a slice of the cases it never does worse than the defaults."""
    fresh = matcher_for(SUITE.corpus, embedder)
    fresh.params = MatcherParams()
    pairs = [p for p in load_pairs() if p.item.startswith(("data-handling", "special-multihop"))]
    cases = [c for c in matcher_cases(fresh, pairs, golden_by_id(SUITE.root)) if c.source == "pair"]
    fitted = fit_matcher(fresh, cases)
    assert fitted.fitted_on == len(cases)
    facts = [c for c in cases if c.kind == "fact"]
    assert accuracy(facts, fitted) >= accuracy(facts, MatcherParams())
