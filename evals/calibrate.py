"""``tutor evals calibrate``: score the labelled answers with each measure and compare with the labels.

The deterministic metric needs only MiniLM. The judge (ragas faithfulness and answer correctness) runs on
the configured judge model, one metric at a time over all rows (the same fixed prompt back to back), with
its calls cached in ``calibration/judge-<model>.jsonl``: the file is saved after every row, so an
interrupted run resumes where it stopped and a finished one replays for free.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from assistant.callbacks import Progress, no_progress
from assistant.settings import Settings
from assistant.text import sentences
from evals.calibration import (
    CALIBRATION_DIR,
    FLAG_BELOW,
    JUDGED,
    Agreement,
    CalibrationResult,
    CalibrationRow,
    accuracy,
    agreement,
    case_accuracy,
    fit_matcher,
    golden_by_id,
    load_pairs,
    load_set,
    matcher_cases,
    save_result,
)
from evals.checks import is_decline
from evals.correctness import MATCHER_FILE, FactMatcher, MatcherParams, matcher_for
from evals.judge import JudgeCache, JudgeEmbeddings, JudgeLLM
from evals.score import judge_score, quiet_ragas
from evals.suite import Suite

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from assistant.llm.base import ChatModel

DETERMINISTIC = "deterministic"


class MatcherReport(BaseModel):
    pairs: int
    accuracy: dict[str, float]  # "fact", "wrong_claim"
    fitted: bool  # the parameters were fitted (and saved) in this run
    params: MatcherParams
    by_how: dict[str, float]


class CalibrationReport(BaseModel):
    matcher: MatcherReport
    results: list[CalibrationResult]


def _stratified(rows: list[CalibrationRow], limit: int | None) -> list[CalibrationRow]:
    """Wrong and correct rows alternately (real recorded failures before perturbed ones), partly-right rows
    last: a limited (or interrupted) run still measures both the catch rate and the false alarms."""
    wrong = sorted((r for r in rows if r.label == "wrong"), key=lambda r: r.origin != "recorded")
    correct = [r for r in rows if r.label == "correct"]
    out = [r for pair in zip(wrong, correct, strict=False) for r in pair]
    n = len(out) // 2
    out += wrong[n:] + correct[n:] + [r for r in rows if r.label == "partly"]
    return out[:limit] if limit else out


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-")


class Calibrator:
    def __init__(
        self,
        settings: Settings,
        suite: Suite,
        *,
        embedder: BaseEmbedding | None = None,
        judge_model: ChatModel | None = None,
        folder: Path = CALIBRATION_DIR,
        progress: Progress = no_progress,
    ) -> None:
        self.settings = settings
        self.suite = suite
        self.folder = folder
        self.progress = progress
        self._embedder = embedder
        self._judge_inner = judge_model
        self._matcher: FactMatcher | None = None

    @property
    def embedder(self) -> BaseEmbedding:
        if self._embedder is None:
            from assistant.embedding.minilm import load_embedder

            self._embedder = load_embedder(self.settings.embedding_model)
        return self._embedder

    @property
    def matcher(self) -> FactMatcher:
        if self._matcher is None:
            self._matcher = matcher_for(self.suite.corpus, self.embedder)
            self._matcher.params = MatcherParams.load(self.folder / MATCHER_FILE.name)
        return self._matcher

    def matcher_report(self, *, fit: bool) -> MatcherReport:
        pairs = load_pairs(self.folder)
        cases = matcher_cases(self.matcher, pairs, golden_by_id(self.suite.root), self.folder)
        if fit:
            self.matcher.params = fit_matcher(self.matcher, cases)
            self.matcher.params.save(self.folder / MATCHER_FILE.name)
        params = self.matcher.params
        by_how = {
            f"{kind}/{how}": round(accuracy([c for c in cases if (c.kind, c.how) == (kind, how)], params), 3)
            for kind, how in sorted({(c.kind, c.how) for c in cases})
        }
        return MatcherReport(
            pairs=len(pairs), accuracy=case_accuracy(cases, params), fitted=fit, params=params, by_how=by_how
        )

    def deterministic(self, rows: list[CalibrationRow]) -> CalibrationResult:
        golden = golden_by_id(self.suite.root)
        scored: list[tuple[CalibrationRow, float | None, bool]] = []
        for row in rows:
            item = golden[row.item]
            declined = is_decline(row.answer, False)
            rivals = sentences(item.reference_answer)
            found = self.matcher.check(
                row.answer, item.key_facts, item.wrong_claims, declined=declined, question=row.question, rivals=rivals
            )
            recall = found.recall
            flagged = found.wrong == 1.0 or (recall is not None and recall < FLAG_BELOW["key_fact_recall"])
            scored.append((row, recall, flagged))
        measure = agreement("key_fact_recall", scored)
        return CalibrationResult(judge_model=DETERMINISTIC, rows=len(rows), measures={"key_fact_recall": measure})

    def judge(self, rows: list[CalibrationRow], metrics: tuple[str, ...] = JUDGED) -> CalibrationResult:
        from ragas.dataset_schema import SingleTurnSample

        from assistant.services import Tutor
        from evals.record import build_judge

        tutor = Tutor(self.settings.model_copy(update={"learner_id": "evals"}), embedder=self.embedder)
        judge = build_judge(tutor, self._judge_inner)
        name = f"{judge.provider}/{judge.model}"
        cache = JudgeCache(self.folder / f"judge-{_slug(name)}.jsonl", "record")
        llm = JudgeLLM(judge, cache=cache)
        embeddings = JudgeEmbeddings(tutor.embedder_for("eval"), cache=cache)
        golden = golden_by_id(self.suite.root)
        measures: dict[str, Agreement] = {}
        try:
            with quiet_ragas():
                for metric in metrics:
                    scored: list[tuple[CalibrationRow, float | None, bool]] = []
                    self.progress(metric, 0, len(rows))
                    for n, row in enumerate(rows, start=1):
                        sample: Any = SingleTurnSample(
                            user_input=row.question,
                            response=row.answer,
                            retrieved_contexts=row.contexts,
                            reference=golden[row.item].reference_answer,
                        )
                        score = judge_score(metric, sample, row.id, llm, embeddings)
                        scored.append((row, score, score is not None and score < FLAG_BELOW[metric]))
                        cache.save()  # an interrupted run resumes from here
                        self.progress(metric, n, len(rows))
                    measures[metric] = agreement(metric, scored)
        finally:
            cache.save()
        return CalibrationResult(judge_model=name, rows=len(rows), measures=measures)

    def run(self, *, limit: int | None = None, with_judge: bool = True, fit_matcher: bool = False) -> CalibrationReport:
        rows = _stratified(load_set(self.folder), limit)
        matcher = self.matcher_report(fit=fit_matcher)
        results = [self.deterministic(rows)]
        if with_judge:
            results.append(self.judge(rows))
        for result in results:
            save_result(result, self.folder)
        return CalibrationReport(matcher=matcher, results=results)


def catch_line(result: CalibrationResult, metric: str) -> str:
    """'this judge catches N% of wrong answers (M labelled rows)', or '' when not calibrated for it."""
    found = result.measures.get(metric)
    if found is None or found.catch_rate is None:
        return ""
    alarms = "" if found.false_alarms is None else f", flags {found.false_alarms:.0%} of correct ones"
    origins = ", ".join(f"{k} {v:.0%}" for k, v in found.catch_by_origin.items())
    who = "this judge" if result.judge_model != DETERMINISTIC else "this metric"
    return f"{who} catches {found.catch_rate:.0%} of wrong answers ({origins}){alarms} ({found.rows} labelled rows)"
