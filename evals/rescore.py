"""Score the committed answers again without any model: after a change to metric code, the golden key facts
or the matcher calibration, ``tutor evals rescore`` refreshes ``scores.json`` from the recorded answers and
judge calls, so the replay's drift check compares against scores the current code produces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.errors import TutorError
from assistant.settings import Settings
from evals.correctness import matcher_for
from evals.golden import load_golden
from evals.judge import JudgeCache, JudgeEmbeddings, JudgeLLM
from evals.models import JUDGE_CACHE, Recording, Scores, aggregate
from evals.score import LLM_METRICS, score_items
from evals.suite import Suite

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding


def rescore(settings: Settings, suite: Suite, *, embedder: BaseEmbedding | None = None) -> Recording:
    """Write ``scores.json`` and ``run.json`` again; a judge call not in the recording is an error."""
    recording = Recording.load(suite.recordings_dir)
    recs = {r.id: r for r in recording.items}
    golden = [g for g in load_golden(suite.golden_dir) if g.id in recs]
    if embedder is None:
        from assistant.embedding.minilm import load_embedder

        embedder = load_embedder(settings.embedding_model)
    cache = JudgeCache(suite.recordings_dir / JUDGE_CACHE, "replay")
    judged = [j for j in recording.run.judged if j in recs]
    llm, embeddings = JudgeLLM(None, cache=cache), JudgeEmbeddings(None, cache=cache)
    scored = score_items(golden, recs, judged, llm, embeddings, matcher_for(suite.corpus, embedder))
    if cache.misses:
        raise TutorError(
            f"{len(cache.misses)} judge call(s) are not in the recording ({', '.join(cache.miss_items())}).",
            "re-record those items: tutor evals record --stale --items ID,...",
        )
    cache.save(only_used=True)  # judgements of metrics no longer judged are dropped
    recording.scores = Scores(items=scored, aggregate=aggregate(scored), spread=recording.scores.spread)
    recording.run.judge_failures = [
        f"{s.id}:{m}" for s in scored if s.judged for m in LLM_METRICS if s.scores.get(m) is None
    ]
    recording.run.judge_validity = cache.validity()
    recording.save(suite.recordings_dir)
    return recording
