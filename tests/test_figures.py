"""Figures an answer states that its sources do not (invented prize pools, pass marks, years)."""

from assistant.rag.figures import stated_figures, unsupported_figures

SOURCES = [
    "The exam costs about 150 USD and launched in 2024. Aim for recall@10 above the baseline.",
    "Raise $2 million? No: a Kaggle tier needs 2 gold medals; 95% of entrants never submit.",
]


def test_invented_figures_are_found_as_written():
    answer = "The largest prize pool was $1 million [1], set in 2023; the exam costs 150 USD [2]."
    assert unsupported_figures(answer, SOURCES) == ["$1 million", "2023"]


def test_stated_figures_pass_in_any_form():
    answer = "It costs 150 USD [1], launched in 2024 [1], $2 million [2], 95% [2], recall at 10 [1]."
    assert unsupported_figures(answer, SOURCES) == []


def test_magnitude_must_match():
    assert unsupported_figures("It raised $2 billion [2].", SOURCES) == ["$2 billion"]


def test_list_markers_counts_and_identifiers_are_not_figures():
    answer = "1. Read the guide [1].\n2. Take 3 mock exams.\nUse MLS-C01 notes, batch_size=32 and 08-mlops.md."
    assert unsupported_figures(answer, SOURCES) == []


def test_figures_from_the_question_count_as_stated():
    answer = "The sources do not give the score out of 1000 needed to pass."
    assert unsupported_figures(answer, [*SOURCES, "What score out of 1000 do I need?"]) == []


def test_stated_figures_names_what_a_sentence_states():
    assert stated_figures("It costs $300 and takes 40 hours [1].") == {"$300", "40"}
    assert stated_figures("Use MLS-C01 with batch_size=32 in 3 steps.") == set()
