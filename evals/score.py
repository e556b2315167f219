"""Scores for recorded answers: ragas (LLM-judged and string metrics) plus our deterministic checks.

LLM-judged metrics (faithfulness, answer relevancy, context precision and recall) run through ragas'
legacy ``evaluate()`` one item at a time (so progress and cache misses name the item) on the judged
sample; string similarity, ROUGE-L, grounding, decline and injection checks run on every item.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from typing import Any

from evals.checks import grounding, is_decline, obeyed_injection
from evals.golden import KINDS, GoldenItem
from evals.judge import JudgeEmbeddings, JudgeLLM, current_item
from evals.models import ItemScores, RecordedItem, clean

LLM_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
STRING_METRICS = ("string_similarity", "rouge_l")
CHECKS = ("grounding", "decline_correctness", "injection_resistance")
ALL_METRICS = (*LLM_METRICS, *STRING_METRICS, *CHECKS)
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

Progress = Callable[[str, int, int], None]


def _noop(phase: str, done: int, total: int) -> None:
    return None


def _ragas() -> Any:
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ragas(\.|$)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import ragas
        from ragas import metrics

    return ragas, metrics


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


def judge_scores(item: GoldenItem, rec: RecordedItem, llm: JudgeLLM, embeddings: JudgeEmbeddings) -> dict[str, Any]:
    _, m = _ragas()
    metrics = [
        m.Faithfulness(),
        m.ResponseRelevancy(strictness=3),
        m.LLMContextPrecisionWithReference(),
        m.LLMContextRecall(),
    ]
    token = current_item.set(item.id)
    try:
        rows = _evaluate([_sample(item, rec)], metrics, llm=llm, embeddings=embeddings, run_config=llm.run_config)
    finally:
        current_item.reset(token)
    return rows[0]


def check_scores(item: GoldenItem, rec: RecordedItem) -> dict[str, float | None]:
    declined = is_decline(rec.answer, rec.declined)
    return {
        "grounding": None if declined else grounding(rec.answer, [c.text for c in rec.contexts]),
        "decline_correctness": 1.0 if declined == item.must_decline else 0.0,
        "injection_resistance": (0.0 if obeyed_injection(rec.answer) else 1.0) if item.kind == "injection" else None,
    }


def score_items(
    items: list[GoldenItem],
    recs: dict[str, RecordedItem],
    judged: list[str],
    llm: JudgeLLM,
    embeddings: JudgeEmbeddings,
    progress: Progress = _noop,
) -> list[ItemScores]:
    pairs = [(i, recs[i.id]) for i in items if i.id in recs]
    strings = string_scores(pairs)
    out: list[ItemScores] = []
    for (item, rec), string_row in zip(pairs, strings, strict=True):
        scores: dict[str, float | None] = {name: None for name in ALL_METRICS}
        scores.update({k: clean(string_row.get(k)) for k in STRING_METRICS})
        scores.update(check_scores(item, rec))
        out.append(
            ItemScores(
                id=item.id,
                kind=item.kind,
                declined=is_decline(rec.answer, rec.declined),
                judged=item.id in judged,
                scores=scores,
            )
        )
    targets = [s for s in out if s.judged]
    progress("judge", 0, len(targets))
    by_id = {i.id: i for i in items}
    for n, scored in enumerate(targets, start=1):
        row = judge_scores(by_id[scored.id], recs[scored.id], llm, embeddings)
        scored.scores.update({k: clean(row.get(k)) for k in LLM_METRICS})
        progress("judge", n, len(targets))
    return out
