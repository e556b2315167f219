"""Figures an answer states that its sources do not (invented prize pools, pass marks, years)."""

from assistant.rag.figures import unsupported_figures, without_figures

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


def test_without_figures_leaves_out_only_the_sentences_that_state_them():
    text = "Kaggle runs competitions [1]. The top prize was $1 million [2].\n- It began in 2010.\n- Practise often [1]."
    kept, left_out = without_figures(text, ["$1 million", "2010"])
    assert kept == "Kaggle runs competitions [1].\n- Practise often [1]." and left_out == 2
    assert without_figures("Nothing to drop [1].", ["$5"]) == ("Nothing to drop [1].", 0)


def test_without_figures_keeps_structure_code_and_the_markers_after_a_sentence():
    listed = "1. The exam costs $300 [1].\n2. It has 65 questions [2].\n3. Practise daily [1]."
    assert without_figures(listed, ["$300", "65"]) == ("3. Practise daily [1].", 2)
    assert without_figures("Bias is bad. [1] Studies show 87% of models fail.", ["87%"]) == ("Bias is bad. [1]", 1)
    assert without_figures("Use e.g. 2023 data [1]. Keep it simple [2].", ["2023"]) == ("Keep it simple [2].", 1)
    code = "Run it:\n```\nprint(42)\n```\nShipped in 2019 [1]."
    assert without_figures(code, ["42", "2019"]) == ("Run it:\n```\nprint(42)\n```", 1)
    assert without_figures("A [1].\n\n$5 is it.\n\nB [1].", ["$5"]) == ("A [1].\n\nB [1].", 1)
