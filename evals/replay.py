"""The CI check: replay the committed recording with no model and no network.

1. Retrieval, live: hit@k, recall@k and MRR on the current code and a fresh eval index.
2. Staleness: the messages the current pipeline would send must match the recorded fingerprints.
3. Scores, replayed: the correctness metric (key facts, wrong claims), ragas on the recorded answers with
   the recorded judge calls (a miss is an error, never a model call; a metric whose judge calls were under
   80% usable fails), string metrics and deterministic checks; they must equal the recorded ones.
4. Thresholds: every metric within its committed limits; per-item failures listed in
   ``known_failures.yaml`` are reported as known and do not fail the run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from assistant.callbacks import Progress, no_progress
from assistant.settings import Settings
from evals.correctness import matcher_for
from evals.fingerprint import fingerprint
from evals.golden import GoldenItem, load_golden
from evals.harness import NoCallModel, live_retrieval, pipeline, prepare
from evals.judge import JudgeCache, JudgeEmbeddings, JudgeLLM
from evals.known import KnownFailures
from evals.models import JUDGE_CACHE, Baseline, ItemScores, RecordedItem, Recording, Validity, aggregate
from evals.score import quiet_ragas, score_items
from evals.suite import Suite
from evals.thresholds import Failure, Row, Thresholds, check_retrieval, check_scores

MIN_USABLE_JUDGE_CALLS = 0.8

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

RERECORD = "re-record with `make evals` (tutor evals record)"
RESCORE = "re-score the recorded answers with `tutor evals rescore` (no model call), or re-record"


class ReplayResult(BaseModel):
    suite: str
    recorded_at: str
    judge_model: str
    passed: bool
    retrieval: dict[str, float]
    aggregate: dict[str, float | None]
    stale: list[str] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)  # what fails the run
    known: list[Failure] = Field(default_factory=list)  # failures covered by known_failures.yaml
    judge_validity: dict[str, Validity] = Field(default_factory=dict)
    items: list[ItemScores] = Field(default_factory=list)
    seconds: float = 0.0


def replay(
    settings: Settings,
    suite: Suite,
    *,
    embedder: BaseEmbedding | None = None,
    progress: Progress = no_progress,
) -> ReplayResult:
    started = time.perf_counter()
    golden = load_golden(suite.golden_dir)
    recording = Recording.load(suite.recordings_dir)
    thresholds = Thresholds.load(suite.thresholds_path)
    baseline = Baseline.load(suite.baseline_path)
    if embedder is None:
        from assistant.embedding.minilm import load_embedder

        embedder = load_embedder(settings.embedding_model)
    tutor = pipeline(settings, suite, embedder, chat_model=NoCallModel(), progress=progress)
    failures: list[Failure] = []

    recs = {r.id: r for r in recording.items}
    # Follow-ups are searched with the standalone query their answer recorded (the question itself where
    # none was recorded): replay never calls a model.
    queries = {i.id: _recorded_query(i, recs[i.id]) if i.id in recs else i.question for i in golden if i.history}

    # 1. retrieval, live
    retrieval = live_retrieval(tutor, golden, suite.retrieval_k, progress, {k: v for k, v in queries.items() if v})
    failures += check_retrieval(thresholds, retrieval)

    # 2. coverage and staleness
    missing = [i.id for i in golden if i.id not in recs]
    if missing:
        failures.append(
            Failure(
                check="coverage",
                message=f"{len(missing)} golden item(s) have no recording: {', '.join(missing[:10])}; {RERECORD}",
            )
        )
    stale = sorted(set(recs) - {i.id for i in golden})
    for n, item in enumerate(golden, start=1):
        rec = recs.get(item.id)
        if rec is not None and fingerprint(prepare(tutor, item, _recorded_query(item, rec))[1]) != rec.fingerprint:
            stale.append(item.id)
        progress("stale", n, len(golden))
    if stale:
        failures.append(
            Failure(
                check="stale",
                message=f"{len(stale)} item(s) would now send different messages to the model than recorded "
                f"(prompt, retrieval, corpus or question changed): {', '.join(stale)}; {RERECORD}",
                rows=[Row(item=i, value=None) for i in stale],
            )
        )

    # 3. scores, replayed from the recorded judge calls
    cache = JudgeCache(suite.recordings_dir / JUDGE_CACHE, "replay")
    items = [i for i in golden if i.id in recs]
    judged = [j for j in recording.run.judged if j in recs]
    with quiet_ragas():
        scored = score_items(
            items,
            recs,
            judged,
            JudgeLLM(None, cache=cache),
            JudgeEmbeddings(None, cache=cache),
            matcher_for(suite.corpus, embedder),
            progress,
        )
    validity = cache.validity()
    failures += check_validity(validity)
    if cache.misses:
        failures.append(
            Failure(
                check="judge",
                message=f"{len(cache.misses)} judge call(s) are not in the recording, for item(s) "
                f"{', '.join(cache.miss_items())} (their answers, contexts or references changed); {RERECORD}",
            )
        )
    recorded = recording.scores.by_id()
    drift = [s.id for s in scored if s.id in recorded and s.scores != recorded[s.id].scores]
    if drift and not cache.misses:
        failures.append(
            Failure(
                check="drift",
                message=f"replayed scores differ from the recorded ones for {', '.join(drift)} "
                f"(metric code, the matcher calibration or library versions changed); {RESCORE}",
            )
        )

    # 4. thresholds
    agg = aggregate(scored)
    failures += check_scores(thresholds, agg, scored, baseline.items if baseline else None)
    failures, known = KnownFailures.load(suite.root).split(failures)
    return ReplayResult(
        suite=suite.name,
        recorded_at=recording.run.recorded_at,
        judge_model=recording.run.judge_model,
        passed=not failures,
        retrieval={"k": float(retrieval.k), **retrieval.metrics},
        aggregate=agg,
        stale=stale,
        failures=failures,
        known=known,
        judge_validity=validity,
        items=scored,
        seconds=round(time.perf_counter() - started, 1),
    )


def check_validity(validity: dict[str, Validity]) -> list[Failure]:
    """A judged metric whose calls were under 80% usable measures the judge, not the answers: it fails."""
    return [
        Failure(
            check="judge",
            metric=metric,
            message=f"only {v.valid} of {v.total} judge calls for {metric} returned usable output "
            f"(under {MIN_USABLE_JUDGE_CALLS:.0%}): the judge cannot measure it; use a stronger judge "
            "(JUDGE_PROVIDER=openai) or drop the metric",
        )
        for metric, v in validity.items()
        if v.share is not None and v.share < MIN_USABLE_JUDGE_CALLS
    ]


def _recorded_query(item: GoldenItem, rec: RecordedItem) -> str | None:
    """A follow-up's recorded standalone query; one recorded before queries were kept makes the item stale
    rather than calling a model (the question itself is searched)."""
    if not item.history:
        return None
    return rec.search_query or item.question
