"""The golden set: schema, coverage of every stage and kind, and sources that exist in the eval corpus."""

from __future__ import annotations

from collections import Counter

import pytest

from assistant.roadmap import load_roadmap, split_front_matter
from assistant.text import sentences
from evals.golden import GoldenItem, load_golden
from evals.suite import Suite

SUITE = Suite.load()
ITEMS = load_golden(SUITE.golden_dir)
BY_KIND: dict[str, list[GoldenItem]] = {}
for _item in ITEMS:
    BY_KIND.setdefault(_item.kind, []).append(_item)


def _corpus_headings() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in SUITE.corpus:
        for path in folder.glob("*.md"):
            meta, body = split_front_matter(path.read_text(encoding="utf-8"))
            if meta.get("id"):
                found[str(meta["id"])] = {ln.lstrip("#").strip() for ln in body.splitlines() if ln.startswith("#")}
    return found


def test_size_and_stage_coverage():
    stages = [s.stage for s in load_roadmap(SUITE.root.parent / "knowledge").stages]
    assert len(ITEMS) >= 60
    counts = Counter(i.stage for i in ITEMS)
    assert [s for s in stages if counts[s] < 5] == []


def test_every_kind_is_covered():
    need = {
        "factual": 5,
        "conceptual": 5,
        "comparison": 3,
        "multi-hop": 3,
        "follow-up": 3,
        "out-of-scope": 3,
        "unanswerable": 2,
        "injection": 3,
    }
    assert {k: len(BY_KIND.get(k, [])) for k in need if len(BY_KIND.get(k, [])) < need[k]} == {}


def test_every_reference_source_exists_in_the_eval_corpus():
    headings = _corpus_headings()
    missing = [
        (i.id, s.doc, s.heading)
        for i in ITEMS
        for s in i.reference_sources
        if s.doc not in headings or s.heading not in headings[s.doc]
    ]
    assert missing == []


@pytest.mark.parametrize("item", BY_KIND["multi-hop"], ids=lambda i: i.id)
def test_multi_hop_items_need_two_documents(item: GoldenItem):
    assert len({s.doc for s in item.reference_sources}) >= 2


@pytest.mark.parametrize("item", BY_KIND["follow-up"], ids=lambda i: i.id)
def test_follow_ups_carry_a_conversation(item: GoldenItem):
    assert [t.role for t in item.history][:1] == ["user"]
    assert item.history[-1].role == "assistant"
    assert item.reference_sources


def test_declines_and_injections_are_well_formed():
    assert all(not i.reference_sources and i.stage == 0 for i in BY_KIND["out-of-scope"])
    assert all(i.must_decline for i in BY_KIND["out-of-scope"] + BY_KIND["unanswerable"])
    stage_docs = {s.id for s in load_roadmap(SUITE.root.parent / "knowledge").stages}
    # at least one injection arrives inside a retrieved document rather than in the question
    assert any(s.doc not in stage_docs for i in BY_KIND["injection"] for s in i.reference_sources)


def test_each_stage_file_has_exactly_one_probe():
    for path in sorted(SUITE.golden_dir.glob("[0-9][0-9]-*.yaml")):
        items = load_golden_file(path)
        assert sum(i.probe for i in items) == 1, path.name


def load_golden_file(path):  # type: ignore[no-untyped-def]
    import yaml

    return [GoldenItem.model_validate(raw) for raw in yaml.safe_load(path.read_text(encoding="utf-8"))]


# -- key facts and wrong claims ----------------------------------------------------------------------
ANSWERABLE = [i for i in ITEMS if not i.must_decline]


def test_every_answerable_item_has_key_facts():
    assert [i.id for i in ANSWERABLE if not 2 <= len(i.key_facts) <= 5] == []
    assert sum(bool(i.wrong_claims) for i in ANSWERABLE) >= len(ANSWERABLE) // 2


def _corpus_candidates() -> list[str]:
    """Sentences and adjacent pairs of every corpus paragraph (a pair never spans two sections)."""
    from evals.correctness import candidates, corpus_paragraphs

    return [c for block in corpus_paragraphs(SUITE.corpus) for c in candidates(block)]


@pytest.fixture(scope="module")
def matcher(embedder):  # type: ignore[no-untyped-def]
    from evals.correctness import matcher_for

    return matcher_for(SUITE.corpus, embedder)


def test_every_key_fact_is_supported_by_the_roadmap_text(matcher):  # type: ignore[no-untyped-def]
    """Each key fact is said by a sentence (or two adjacent ones) of the corpus, as the matcher that checks
    answers sees it, with its figures: a key fact nobody could source would fail every honest answer. Corpus
    sentences pack several facts each, so one fact scores lower against its source than against a focused
    answer sentence: the bar here is the answer threshold less 0.25 (the figures must still all be there)."""
    corpus = _corpus_candidates()
    matcher.warm(corpus + [f for i in ANSWERABLE for f in i.key_facts])
    bar = matcher.params.threshold - 0.25
    unsupported = []
    for item in ANSWERABLE:
        for fact in item.key_facts:
            best = matcher.best(fact, corpus)
            if best is None or not best.numbers_ok or best.score(matcher.params) < bar:
                unsupported.append((item.id, fact))
    assert unsupported == []


# Wrong claims the matcher finds in a right answer when it has only the key facts as rivals (item -> reason).
KNOWN_SWAPS = {
    "classic-ml-05": "k-means vs DBSCAN for clusters of any shape: the reference names both in one sentence",
    "cloud-and-scale-05": "one reference sentence lists every topic of the stage the wrong claim reorders",
    # The wrong claim negates a roadmap sentence; the reference states that sentence, and the scorer, which
    # holds every reference sentence up as a rival, tells them apart (checked below).
    "programming-05": "pure Python vs C, C++ or CUDA underneath",
    "projects-and-portfolio-05": "a Titanic classifier as a strong project vs worth less than one deployed project",
}


def test_reference_answers_state_no_wrong_claim(matcher):  # type: ignore[no-untyped-def]
    """The right answer to each item, held against its wrong claims with only its key facts as rivals, states
    none of them but the known swaps (a new one means a wrong claim is worded too close to the truth), and
    with the reference sentences as rivals too (as the scorer holds it), none at all."""
    stated = {
        i.id
        for i in ANSWERABLE
        if matcher.check(i.reference_answer, i.key_facts, i.wrong_claims, declined=False, question=i.question).stated
    }
    assert stated <= set(KNOWN_SWAPS), stated - set(KNOWN_SWAPS)
    negated = [i for i in ANSWERABLE if i.id in {"programming-05", "projects-and-portfolio-05"}]
    for item in negated:
        rivals = sentences(item.reference_answer)
        scored = matcher.check(
            item.reference_answer,
            item.key_facts,
            item.wrong_claims,
            declined=False,
            question=item.question,
            rivals=rivals,
        )
        assert not scored.stated, item.id
