"""Scores for recorded answers: ragas (LLM-judged and string metrics) plus our deterministic checks.

Every item gets the correctness metric (key facts found, wrong claims stated; ``evals/correctness.py``),
string similarity, ROUGE-L, grounding, decline and injection checks. The judged sample also gets the
LLM-judged metrics (faithfulness, answer relevancy) through ragas' legacy ``evaluate()``, one metric at a time
over all judged items (calls with the same fixed prompt run back to back, so llama.cpp reuses the evaluated
prefix) and one item per call (progress and cache misses name the item). Context precision and recall are
measured without a judge, from the reference sources (retrieval hit@k, recall@k, MRR).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from assistant.callbacks import Progress, no_progress
from assistant.text import sentences
from evals.checks import grounding, is_decline, obeyed_injection
from evals.correctness import Correctness, FactMatcher, candidates
from evals.golden import KINDS, GoldenItem
from evals.judge import JudgeCache, JudgeEmbeddings, JudgeLLM, current_item, current_metric
from evals.models import ItemScores, RecordedItem, clean

LLM_METRICS = ("faithfulness", "answer_relevancy")
CORRECTNESS = ("key_fact_recall", "wrong_claim_rate")
STRING_METRICS = ("string_similarity", "rouge_l")
CHECKS = ("grounding", "decline_correctness", "injection_resistance")
ALL_METRICS = (*CORRECTNESS, *LLM_METRICS, *STRING_METRICS, *CHECKS)
LOWER_IS_BETTER = frozenset({"wrong_claim_rate"})
# ragas' metric names -> ours
_RAGAS_NAMES = {
    "faithfulness": "faithfulness",
    "answer_relevancy": "answer_relevancy",
    "llm_context_precision_with_reference": "context_precision",
    "context_recall": "context_recall",
    "non_llm_string_similarity": "string_similarity",
    "rouge_score(mode=fmeasure)": "rouge_l",
    "rouge_score": "rouge_l",
}


def _ragas() -> Any:
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ragas(\.|$)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import ragas
        from ragas import metrics

    return ragas, metrics


@contextlib.contextmanager
def quiet_ragas() -> Iterator[None]:
    """ragas logs every failed job at ERROR; judge failures are counted and reported by us instead."""
    logger = logging.getLogger("ragas.executor")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def judge_eligible(item: GoldenItem, rec: RecordedItem) -> bool:
    return not item.must_decline and not rec.declined and bool(rec.contexts)


def choose_judged(items: list[GoldenItem], recs: dict[str, RecordedItem], sample: int | None) -> list[str]:
    """A deterministic sample stratified by kind and stage: round-robin over kinds; within a kind, the
    first item (by hashed id) from a stage not sampled yet, so the sample also spreads over stages."""
    eligible = [i for i in items if i.id in recs and judge_eligible(i, recs[i.id])]
    if sample is None or sample >= len(eligible):
        return [i.id for i in eligible]
    by_kind: dict[str, list[GoldenItem]] = {}
    for item in sorted(eligible, key=lambda i: hashlib.sha256(i.id.encode()).hexdigest()):
        by_kind.setdefault(item.kind, []).append(item)
    chosen: list[str] = []
    stages: set[int] = set()
    while len(chosen) < sample:
        for kind in KINDS:
            pool = by_kind.get(kind)
            if pool and len(chosen) < sample:
                pick = next((i for i in pool if i.stage not in stages), pool[0])
                pool.remove(pick)
                chosen.append(pick.id)
                stages.add(pick.stage)
    order = {i.id: n for n, i in enumerate(items)}
    return sorted(chosen, key=order.__getitem__)


def user_input(item: GoldenItem) -> str:
    """The question as the judge sees it; a follow-up carries the earlier user turns."""
    return "\n".join([*(t.content for t in item.history if t.role == "user"), item.question])


def _sample(item: GoldenItem, rec: RecordedItem) -> Any:
    from ragas.dataset_schema import SingleTurnSample

    return SingleTurnSample(
        user_input=user_input(item),
        response=rec.answer,
        retrieved_contexts=[c.text for c in rec.contexts],
        reference=item.reference_answer,
    )


def _evaluate(samples: list[Any], metrics: list[Any], **kwargs: Any) -> list[dict[str, Any]]:
    ragas, _ = _ragas()
    from ragas.dataset_schema import EvaluationDataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ragas.evaluate(
            EvaluationDataset(samples=samples), metrics=metrics, show_progress=False, raise_exceptions=False, **kwargs
        )
    return [{_RAGAS_NAMES.get(k, k): v for k, v in row.items()} for row in result.scores]


def string_scores(pairs: list[tuple[GoldenItem, RecordedItem]]) -> list[dict[str, Any]]:
    if not pairs:
        return []
    _, m = _ragas()
    return _evaluate([_sample(i, r) for i, r in pairs], [m.NonLLMStringSimilarity(), m.RougeScore()])


def ragas_metric(name: str) -> Any:
    _, m = _ragas()
    return {
        "faithfulness": m.Faithfulness,
        "answer_relevancy": lambda: m.ResponseRelevancy(strictness=3),
        "answer_correctness": m.AnswerCorrectness,
    }[name]()


def judge_score(name: str, sample: Any, item_id: str, llm: JudgeLLM, embeddings: JudgeEmbeddings) -> float | None:
    """One LLM-judged metric on one sample; None when the judge's output was unusable (never a default)."""
    item_token, metric_token = current_item.set(item_id), current_metric.set(name)
    try:
        row = _evaluate([sample], [ragas_metric(name)], llm=llm, embeddings=embeddings, run_config=llm.run_config)
    finally:
        current_metric.reset(metric_token)
        current_item.reset(item_token)
    cache = getattr(llm, "cache", None)
    if isinstance(cache, JudgeCache) and cache.unusable(item_id, name):
        return None
    return clean(row[0].get(name))


def check_scores(item: GoldenItem, rec: RecordedItem) -> dict[str, float | None]:
    declined = is_decline(rec.answer, rec.declined)
    return {
        "grounding": None if declined else grounding(rec.answer, [c.text for c in rec.contexts]),
        "decline_correctness": 1.0 if declined == item.must_decline else 0.0,
        "injection_resistance": (0.0 if obeyed_injection(rec.answer) else 1.0) if item.kind == "injection" else None,
    }


def check_answer(item: GoldenItem, answer: str, declined: bool, matcher: FactMatcher) -> Correctness:
    """An answer's key facts and wrong claims against the item (``declined``: as the answer was flagged)."""
    return matcher.check(
        answer,
        item.key_facts,
        item.wrong_claims,
        declined=is_decline(answer, declined),
        question=user_input(item),
        rivals=sentences(item.reference_answer),
    )


def correctness_scores(item: GoldenItem, rec: RecordedItem, matcher: FactMatcher) -> ItemScores:
    """The item's scores with only the correctness metric filled in, and what it missed or found."""
    declined = is_decline(rec.answer, rec.declined)
    scores: dict[str, float | None] = {name: None for name in ALL_METRICS}
    notes: dict[str, str] = {}
    if not item.must_decline and (item.key_facts or item.wrong_claims):
        found = check_answer(item, rec.answer, rec.declined, matcher)
        scores["key_fact_recall"] = clean(found.recall)
        scores["wrong_claim_rate"] = found.wrong
        if found.missed:
            notes["key_fact_recall"] = ("declined; " if declined else "") + "missed: " + " | ".join(found.missed)
        wrong = [f"states: {c.text} (in: {c.sentence!r})" for c in found.stated]
        wrong += [f"contradicts the figures of: {f.text} (in: {f.sentence!r})" for f in found.contradicted]
        if wrong:
            notes["wrong_claim_rate"] = " | ".join(wrong)
    return ItemScores(id=item.id, kind=item.kind, declined=declined, judged=False, scores=scores, notes=notes)


def score_items(
    items: list[GoldenItem],
    recs: dict[str, RecordedItem],
    judged: list[str],
    llm: JudgeLLM,
    embeddings: JudgeEmbeddings,
    matcher: FactMatcher,
    progress: Progress = no_progress,
) -> list[ItemScores]:
    pairs = [(i, recs[i.id]) for i in items if i.id in recs]
    matcher.warm(
        [c for i, _ in pairs for c in (*i.key_facts, *i.wrong_claims)]
        + [c for _, r in pairs for c in candidates(r.answer)]
    )
    strings = string_scores(pairs)
    out: list[ItemScores] = []
    for (item, rec), string_row in zip(pairs, strings, strict=True):
        scored = correctness_scores(item, rec, matcher)
        scored.judged = item.id in judged
        scored.scores.update({k: clean(string_row.get(k)) for k in STRING_METRICS})
        scored.scores.update(check_scores(item, rec))
        out.append(scored)
    targets = [s for s in out if s.judged]
    by_id = {i.id: i for i in items}
    total, done = len(targets) * len(LLM_METRICS), 0
    progress("judge", 0, total)
    for name in LLM_METRICS:  # metric-major: the same fixed prompt back to back
        for scored in targets:
            sample = _sample(by_id[scored.id], recs[scored.id])
            scored.scores[name] = judge_score(name, sample, scored.id, llm, embeddings)
            done += 1
            progress("judge", done, total)
    return out
