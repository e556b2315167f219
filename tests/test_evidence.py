"""Compact evidence: the sentences that bear on the question, under a token budget, numbered by chunk."""

from assistant.rag.evidence import GAP, count_tokens, select_evidence
from assistant.rag.retrieval import RetrievedChunk

SPLITS = (
    "Random splits suit independent rows. For forecasting, split by time: train on the past and test on the "
    "latest period. This keeps future information out of training. Seeds make experiments comparable. "
    "Log every run with its data version."
)
DOCKER = "Docker packages a service with its dependencies. Kubernetes schedules many copies when traffic grows."
CODE = "Use TimeSeriesSplit for rolling folds:\n```python\nfrom sklearn.model_selection import TimeSeriesSplit\n```"


def chunk(text: str, n: int) -> RetrievedChunk:
    return RetrievedChunk(
        id=f"c{n}", text=text, score=0.5, source=f"s{n}.md", doc_id=f"d{n}", title="t", heading="h", heading_path="h"
    )


def test_relevant_sentences_are_kept_in_order_and_never_without_the_one_they_point_back_to(embedder):
    question = "How should I split data for forecasting?"
    [tight] = select_evidence(question, [chunk(SPLITS, 1)], embedder, 28)
    assert "For forecasting, split by time" in tight.text and "Log every run" not in tight.text
    for budget in (20, 30, 40, 50):
        [found] = select_evidence(question, [chunk(SPLITS, 1)], embedder, budget)
        if "This keeps future information" in found.text:
            assert found.text.index("For forecasting") < found.text.index("This keeps")
    [solo] = select_evidence("Why keep future information out of training?", [chunk(SPLITS, 1)], embedder, 30)
    assert "This keeps future information" in solo.text and "For forecasting" in solo.text


def test_the_budget_holds_and_empty_chunks_are_dropped(embedder):
    question = "How should I split data for forecasting?"
    found = select_evidence(question, [chunk(SPLITS, 1), chunk(DOCKER, 2)], embedder, 30)
    assert [c.id for c in found] == ["c1"]  # nothing of the Docker chunk was worth the budget
    assert sum(count_tokens(c.text) for c in found) <= 30 + 2
    roomy = select_evidence(question, [chunk(SPLITS, 1), chunk(DOCKER, 2)], embedder, 400)
    assert [c.id for c in roomy] == ["c1", "c2"] and GAP not in roomy[0].text  # all of it fits


def test_a_code_block_is_kept_whole_or_not_at_all(embedder):
    [found] = select_evidence("How do I use TimeSeriesSplit?", [chunk(CODE, 1)], embedder, 200)
    assert "```python\nfrom sklearn.model_selection import TimeSeriesSplit\n```" in found.text


def test_the_best_sentence_is_kept_even_over_budget(embedder):
    [found] = select_evidence("How should I split data for forecasting?", [chunk(SPLITS, 1)], embedder, 1)
    assert found.text.startswith("For forecasting, split by time")


def test_the_better_ranked_chunk_fills_the_budget_first(embedder):
    """Retrieval ranked the day-to-day section first; a job-market sentence sharing more of the question's words
    must not take its place (the recorded ml-engineer-role-01 kept a lead-in and lost what the job is)."""
    week = (
        "Most of the job is engineering around a model rather than inventing new models. Building data pipelines: "
        "writing SQL and Python that pull training data and produce features."
    )
    market = "Demand for AI and machine learning specialists is expected to rise around 40% by 2027."
    question = "What does a machine learning engineer do day to day?"
    found = select_evidence(question, [chunk(week, 1), chunk(market, 2)], embedder, 36)
    assert [c.id for c in found] == ["c1"] and "Building data pipelines" in found[0].text
    swapped = select_evidence(question, [chunk(market, 1), chunk(week, 2)], embedder, 36)
    assert "40%" in swapped[0].text  # the order retrieval gave decides, not the wording alone


def test_neighbouring_list_items_stay_on_their_own_lines(embedder):
    """Joined with spaces, "them: - New to ML ..." ran the lead-in and the items into one sentence, which the
    model, the support check and the key points then read as one (the recorded certifications-courses-books-05)."""
    text = (
        "Match resources to your situation:\n\n- New to ML, weak maths: the ML Specialization, then Hands-On ML.\n"
        "- Experienced programmer: fast.ai plus Hands-On ML. Then the Hugging Face courses."
    )
    [found] = select_evidence("Which courses should I take to learn ML?", [chunk(text, 1)], embedder, 400)
    assert found.text.split("\n") == [
        "Match resources to your situation:",
        "- New to ML, weak maths: the ML Specialization, then Hands-On ML.",
        "- Experienced programmer: fast.ai plus Hands-On ML. Then the Hugging Face courses.",
    ]
