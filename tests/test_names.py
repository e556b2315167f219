"""Code names no source gives (assistant/rag/names.py): the invented APIs a small model writes.

The cases are from the 2026-12-07 release recording: ``pysal.lib.weights`` (invented; the support check had
passed its sentence) and the names the recorded answers used fairly (snake_case parameters, scikit-learn classes,
``sklearn.model_selection``, file names), which must not be flagged.
"""

from __future__ import annotations

from assistant.rag.names import stated_names, unsupported_names

PSI_SOURCE = (
    "The population stability index (PSI) compares the distribution of a feature in production with a reference "
    "window; a PSI above 0.2 is usually treated as significant drift."
)
SPLIT_SOURCE = "When each user has many rows, `GroupKFold` keep all rows of one user, patient or session together."


def test_an_invented_module_is_flagged():
    answer = "The PSI is computed using the `psi` function from the `pysal.lib.weights` module in Python [1]."
    assert unsupported_names(answer, [PSI_SOURCE]) == ["pysal.lib.weights"]


def test_names_the_sources_give_or_the_stack_holds_pass():
    answer = (
        "Use `GroupShuffleSplit` or `GroupKFold` from the `sklearn.model_selection` module [1]. "
        "Set `class_weight` and call `model.eval()` before inference."
    )
    sources = [SPLIT_SOURCE, "Pass class_weight to the estimator. A model has eval mode: model.eval()."]
    assert stated_names(answer) >= {"GroupKFold", "sklearn.model_selection", "class_weight", "model.eval"}
    assert unsupported_names(answer, sources) == ["GroupShuffleSplit"]  # a class no source names


def test_prose_urls_and_abbreviations_are_not_names():
    answer = (
        "Learn the basics first, e.g. linear algebra (see https://example.org/some_page.html) and practise on "
        "fast.ai, i.e. the free course. Version 2.5 is current. Write a README [1]."
    )
    assert unsupported_names(answer, ["Take the fast.ai course."]) == []
    assert "some_page" not in stated_names(answer) and "e.g" not in stated_names(answer)


def test_a_name_in_the_question_counts_as_given():
    answer = "The `ray_tune_helper` call speeds up training."
    assert unsupported_names(answer, ["What does ray_tune_helper do?"]) == []
    assert unsupported_names(answer, ["Tune hyperparameters."]) == ["ray_tune_helper"]
    assert unsupported_names("Call `fancy_trainer()` first.", ["Train the model."]) == ["fancy_trainer"]
