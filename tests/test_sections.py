"""Section priors (assistant/rag/sections.py): a question about how to study gets its stage's study plan first;
other questions count study plans and unasked-for resource lists at half weight.

The phrasings are the golden set's and the ones that must not trip the rules; the retrieval tests run the real
Chroma + BM25 retriever in a temp folder, each against the same retriever with the priors off, so the test
fails when the priors stop changing the order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.rag.retrieval import Retriever
from assistant.rag.sections import (
    ASIDE_WEIGHT,
    Section,
    asks_for_resources,
    asks_how_to_study,
    section_of,
    section_weight,
)
from assistant.vectorstore.chroma import open_client, open_collection
from tests.conftest import ingest_folder

HOW_TO_STUDY = [
    "What MLOps skills do I need to get my models into production, and how should I learn them?",
    "How do I learn to train and run ML at scale in the cloud with big data and lots of GPUs?",
    "How do I get started with computer vision, NLP and responsible AI?",
    "What should I learn about large language models, RAG and fine-tuning?",
    "How should I prepare for ML engineer job interviews, and how many hours a week should I put in?",
    "Which courses, books and certifications should I use to learn machine learning engineering?",
    "Where should I start with deep learning?",
]
ABOUT_THE_SUBJECT = [
    "Which classic machine learning algorithms should I learn, and what is each one good for?",
    "How do neural networks learn, and which deep learning architectures should I study?",
    "How can I prepare for the ML system design interview?",
    "What does a machine learning engineer actually spend a normal week doing?",
    "How do I know when a deployed model needs retraining?",
    "Why do I need the chain rule if PyTorch computes gradients for me?",
]


@pytest.mark.parametrize("question", HOW_TO_STUDY)
def test_questions_about_how_to_study(question):
    assert asks_how_to_study(question)


@pytest.mark.parametrize("question", ABOUT_THE_SUBJECT)
def test_questions_about_the_subject_are_not_about_studying(question):
    assert not asks_how_to_study(question)


def test_sections_by_heading_and_their_weights():
    assert section_of("MLOps and deployment > How to study this stage") is Section.STUDY_PLAN
    assert section_of("Certifications, courses and books > Choosing what to study") is Section.STUDY_PLAN
    assert section_of("Interview preparation > Weekly practice plan") is Section.STUDY_PLAN
    assert section_of("Deep learning > Resources") is Section.RESOURCES
    assert section_of("Deep learning > Training deep networks > Optimisers") is Section.SUBJECT
    content = "Which optimiser should I use?"
    assert section_weight(content, "Deep learning > Resources") == ASIDE_WEIGHT
    assert section_weight(content, "Deep learning > How to study this stage") == ASIDE_WEIGHT
    assert section_weight(content, "Deep learning > Optimisers") == 1.0
    assert asks_for_resources("Which book should I read on optimisers?")
    assert section_weight("Which book should I read on optimisers?", "Deep learning > Resources") == 1.0
    assert section_weight("How should I learn deep learning?", "Deep learning > How to study this stage") == 1.0


# --- on the real retriever -----------------------------------------------------------------------

MONITORING = (
    "Models decay after deployment because the data they see drifts away from the training data. Compare the "
    "distribution of each input feature in production with a reference window, and alert when the population "
    "stability index passes 0.2 or accuracy on labelled samples falls."
)
SERVING = "Serve a model behind an HTTP API with FastAPI, validate inputs with pydantic, and load the model once."
STUDY_PLAN = (
    "Week one: deploy one trained model behind an API. Week two: add a container and a CI pipeline. Week three: "
    "add logging and a dashboard. Spend about six hours a week and finish each step before the next."
)
RESOURCES = (
    "- Drift monitoring in production: a course on monitoring drift, decay and alerts for deployed models.\n"
    "- Monitoring drift with Evidently: tutorial on drift reports for model monitoring in production.\n"
    "- Data drift and model decay: a talk on monitoring deployed models for drift."
)


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    front = "---\nid: mlops\ntitle: MLOps and deployment\nstage: 8\n---\n\n"
    body = (
        f"# MLOps and deployment\n\nStage 8 takes a trained model to production and keeps it healthy.\n\n"
        f"## Serving models\n\n{SERVING}\n\n## Monitoring drift and decay\n\n{MONITORING}\n\n"
        f"## How to study this stage\n\n{STUDY_PLAN}\n\n## Resources\n\n{RESOURCES}\n"
    )
    (folder / "mlops.md").write_text(front + body)
    other = "---\nid: maths\ntitle: Mathematics\nstage: 2\n---\n\n# Mathematics\n\n## How to study this stage\n\n"
    (folder / "maths.md").write_text(other + "Learn linear algebra first, then calculus, one hour a day.\n")
    return folder


@pytest.fixture
def corpus(make_settings: Any, tmp_path: Path, embedder: Any) -> tuple[Any, Any]:
    settings = make_settings()
    ingest_folder(settings, write_corpus(tmp_path / "corpus"), embedder)
    return settings, open_collection(open_client(settings), settings)


def retrievers(settings: Any, col: Any, embedder: Any, **kw: Any) -> tuple[Retriever, Retriever]:
    args: dict[str, Any] = {"top_k": 6, "lexical_dir": settings.lexical_dir, **kw}
    return Retriever(col, embedder, **args), Retriever(col, embedder, section_priors=False, **args)


def test_a_resource_list_gives_way_to_the_section_on_the_subject(corpus, embedder):
    settings, col = corpus
    with_priors, without = retrievers(settings, col, embedder)
    question = "How do I monitor drift in deployed models?"
    plain = [c.heading for c in without.retrieve(question)]
    assert plain.index("Resources") < plain.index("Monitoring drift and decay")  # what the priors are for
    chunks, trace = with_priors.search(question)
    headings = [c.heading for c in chunks]
    assert headings.index("Monitoring drift and decay") < headings.index("Resources")
    resources = next(c for c in chunks if c.heading == "Resources")
    assert resources.section_weight == ASIDE_WEIGHT
    assert any(note.startswith("resources") and "half weight" in note for note in trace.priors)
    assert [h.id for h in trace.fused[: len(chunks)]] == [c.id for c in chunks]
    # asked for, the list keeps its full weight
    asked = with_priors.retrieve("Which tutorials and courses cover drift monitoring?")
    assert next(c for c in asked if c.heading == "Resources").section_weight == 1.0


@pytest.mark.parametrize("candidates", [20, 1])  # 1: the study plan is not among the candidates and is fetched
def test_a_question_about_studying_gets_its_stages_study_plan_first(corpus, embedder, candidates):
    settings, col = corpus
    with_priors, without = retrievers(settings, col, embedder, candidates=candidates)
    question = "How should I learn to deploy and monitor models in production?"
    assert without.retrieve(question)[0].heading != "How to study this stage"
    chunks, trace = with_priors.search(question)
    assert chunks[0].heading == "How to study this stage" and chunks[0].doc_id == "mlops" and chunks[0].promoted
    assert "Week one" in chunks[0].text
    assert not any(c.doc_id == "maths" and c.promoted for c in chunks)  # another stage's plan is not promoted
    assert any("study plan of mlops" in note for note in trace.priors)


def test_the_stage_filter_holds_for_a_fetched_study_plan(corpus, embedder):
    settings, col = corpus
    with_priors, _ = retrievers(settings, col, embedder, candidates=1)
    chunks = with_priors.retrieve("How should I learn to deploy models?", stage=8)
    assert chunks and all(c.stage == 8 for c in chunks)
