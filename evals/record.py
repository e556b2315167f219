"""Record an eval run on a real model: answers, contexts, fingerprints, judge calls and scores.

``Recorder.plan()`` updates the eval index, prepares every item (retrieval only) and estimates tokens
and cost; ``Recorder.run()`` then asks the real pipeline, scores the answers with the judge, and writes
``answers.jsonl``, ``judge-cache.jsonl``, ``scores.json`` and ``run.json``. With ``repeats > 1`` every
repeat is answered and judged afresh and the spread is stored; repeat 1 is the one replay reproduces.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.estimate import CostEstimate
from assistant.callbacks import Progress, no_progress
from assistant.errors import TutorError
from assistant.llm.base import ChatModel
from assistant.llm.factory import build_chat_model
from assistant.settings import Settings
from evals import estimate as est
from evals.correctness import FactMatcher, matcher_for
from evals.fingerprint import fingerprint, prompt_template_hash
from evals.golden import GoldenItem, load_golden, select
from evals.harness import live_retrieval, pipeline, prepare
from evals.judge import JUDGE_MAX_TOKENS, JudgeCache, JudgeEmbeddings, JudgeLLM, merged_validity
from evals.models import (
    JUDGE_CACHE,
    RUN,
    ItemScores,
    RecordedCitation,
    RecordedContext,
    RecordedItem,
    Recording,
    RunInfo,
    Scores,
    Spread,
    Totals,
    aggregate,
)
from evals.score import LLM_METRICS, choose_judged, score_items
from evals.suite import Suite

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from assistant.services import Tutor


class RecordOptions(BaseModel):
    repeats: int = Field(1, ge=1, le=20)
    limit: int | None = Field(None, ge=1)
    items: list[str] | None = None
    judge_sample: int | None = Field(None, ge=0)
    out: Path | None = None  # default: the suite's recordings/
    reuse_judgements: bool = True  # keep cached judge calls for unchanged answers (same judge model)
    stale_only: bool = False  # re-record only stale or missing items (or those named) and merge them in


class Plan(BaseModel):
    items: list[str]
    judged_estimate: int
    estimate: CostEstimate
    local_seconds: float | None = None


def _settings_snapshot(s: Settings) -> dict[str, str | int | float]:
    return {
        "top_k": s.top_k,
        "min_relevance": s.min_relevance,
        "chunk_size": s.chunk_size,
        "chunk_overlap": s.chunk_overlap,
        "max_answer_tokens": s.max_answer_tokens,
        "evidence_tokens": s.evidence_tokens,
        "key_points": s.key_points,
        "temperature": s.temperature,
        "embedding_model": s.embedding_model,
        "local_n_ctx": s.n_ctx,
    }


class Recorder:
    def __init__(
        self,
        settings: Settings,
        suite: Suite,
        options: RecordOptions,
        *,
        embedder: BaseEmbedding | None = None,
        chat_model: ChatModel | None = None,
        judge_model: ChatModel | None = None,
        progress: Progress = no_progress,
    ) -> None:
        self.settings = settings
        self.suite = suite
        self.options = options
        self.progress = progress
        self._embedder = embedder
        self._chat_model = chat_model
        self._judge_inner = judge_model
        self.items: list[GoldenItem] = select(load_golden(suite.golden_dir), options.items, options.limit)
        self._tutor: Tutor | None = None
        self._judge: AccountedChatModel | None = None
        self._previous: Recording | None = None  # the recording a --stale run merges into
        if options.stale_only and options.repeats > 1:
            raise TutorError(
                "--stale re-records single answers; it cannot be combined with --repeats.",
                "drop --repeats, or re-record everything without --stale.",
            )

    @property
    def out(self) -> Path:
        return self.options.out or self.suite.recordings_dir

    @property
    def tutor(self) -> Tutor:
        if self._tutor is None:
            embedder = self._embedder
            if embedder is None:
                from assistant.embedding.minilm import load_embedder

                embedder = load_embedder(self.settings.embedding_model)
            self._tutor = pipeline(
                self.settings, self.suite, embedder, chat_model=self._chat_model, progress=self.progress
            )
        return self._tutor

    @property
    def matcher(self) -> FactMatcher:
        return matcher_for(self.suite.corpus, self.tutor.embedder_for("eval"))

    @property
    def judge(self) -> AccountedChatModel:
        if self._judge is None:
            self._judge = build_judge(self.tutor, self._judge_inner)
        return self._judge

    # -- before starting ------------------------------------------------------------------------
    def _select_stale(self) -> None:
        """With ``stale_only``: keep the items whose messages changed since the recording, or that have none;
        items named in ``options.items`` are all kept."""
        if not self.options.stale_only or self._previous is not None:
            return
        previous = Recording.load(self.out)
        if previous.run.judge_model != f"{self.judge.provider}/{self.judge.model}" or (
            previous.run.provider,
            previous.run.model,
        ) != (self.tutor.llm.provider, self.tutor.llm.model):
            raise TutorError(
                f"The recording was made with {previous.run.provider}/{previous.run.model} judged by "
                f"{previous.run.judge_model}; a --stale run must use the same models.",
                "re-record everything without --stale.",
            )
        recorded = {r.id: r.fingerprint for r in previous.items}
        self._previous = previous
        if self.options.items:  # named items are re-recorded even when unchanged (e.g. after a post-processing fix)
            return
        self.items = [i for i in self.items if recorded.get(i.id) != fingerprint(prepare(self.tutor, i)[1])]

    def plan(self) -> Plan:
        self._select_stale()
        estimate = est.RunEstimate(self.options.repeats)
        eligible: list[tuple[GoldenItem, list[str]]] = []
        for n, item in enumerate(self.items, start=1):
            chunks, messages = prepare(self.tutor, item)
            if chunks:
                estimate.answer(self.tutor.llm, messages, self.settings.max_answer_tokens)
                if not item.must_decline:
                    eligible.append((item, [c.text for c in chunks]))
            self.progress("plan", n, len(self.items))
        if self._previous is not None:  # a --stale run re-judges only the stale items of the kept sample
            eligible = [e for e in eligible if e[0].id in self._previous.run.judged]
        sample = len(eligible) if self.options.judge_sample is None else min(self.options.judge_sample, len(eligible))
        for item, contexts in eligible[:sample]:
            estimate.judged(self.judge, JUDGE_MAX_TOKENS, item.question, item.reference_answer, contexts)
        result = estimate.result()
        return Plan(
            items=[i.id for i in self.items],
            judged_estimate=sample,
            estimate=result,
            local_seconds=est.local_seconds(result),
        )

    # -- the run ----------------------------------------------------------------------------------
    def _answer_all(self, totals: Totals) -> dict[str, RecordedItem]:
        recs: dict[str, RecordedItem] = {}
        self.progress("answer", 0, len(self.items))
        for n, item in enumerate(self.items, start=1):
            answer = self.tutor.answers.ask(item.question, item.history_messages())
            # The evidence and messages of this very answer (its recorded rewrite, not a second model call).
            chunks, messages = prepare(self.tutor, item, answer.search_query or None)
            if answer.calls:
                totals.add(answer.usage, answer.cost_usd, answer.latency_s, answer.calls)
            recs[item.id] = RecordedItem(
                id=item.id,
                question=item.question,
                history=item.history_messages(),
                answer=answer.text,
                declined=answer.declined,
                contexts=[
                    RecordedContext(
                        id=c.id, doc_id=c.doc_id, heading_path=c.heading_path, score=round(c.score, 4), text=c.text
                    )
                    for c in chunks
                ],
                citations=[
                    RecordedCitation(n=c.n, doc_id=c.doc_id, heading_path=c.heading_path) for c in answer.citations
                ],
                usage=answer.usage,
                cost_usd=answer.cost_usd,
                latency_s=round(answer.latency_s, 3),
                provider=answer.provider,
                model=answer.model,
                fingerprint=fingerprint(messages),
                calls=answer.calls,
                search_query=answer.search_query if item.history else None,
            )
            self.progress("answer", n, len(self.items))
        return recs

    def _previous_judge(self) -> str | None:
        try:
            return RunInfo.model_validate_json((self.out / RUN).read_text(encoding="utf-8")).judge_model
        except (OSError, ValueError):
            return None

    def run(self) -> Recording:
        self._select_stale()
        if self._previous is not None:
            return self._merge_run(self._previous) if self.items else self._previous
        started = time.perf_counter()
        judge_name = f"{self.judge.provider}/{self.judge.model}"
        reuse = self.options.reuse_judgements and self._previous_judge() == judge_name
        answer_totals, judge_totals = Totals(), Totals()
        first: tuple[dict[str, RecordedItem], list[ItemScores], JudgeCache] | None = None
        per_repeat: list[dict[str, float | None]] = []
        judged: list[str] = []
        for repeat in range(self.options.repeats):
            recs = self._answer_all(answer_totals)
            if repeat == 0:
                judged = choose_judged(self.items, recs, self.options.judge_sample)
            cache = JudgeCache(self.out / JUDGE_CACHE if repeat == 0 and reuse else None, "record")
            llm = JudgeLLM(self.judge, cache=cache)
            embeddings = JudgeEmbeddings(self.tutor.embedder_for("eval"), cache=cache)
            scored = score_items(
                self.items, recs, [j for j in judged if j in recs], llm, embeddings, self.matcher, self.progress
            )
            _add_judge(judge_totals, llm)
            per_repeat.append(aggregate(scored))
            if first is None:
                first = (recs, scored, cache)
        assert first is not None
        recs, scored, cache = first
        cache.save(self.out / JUDGE_CACHE, only_used=True)
        retrieval = live_retrieval(self.tutor, self.items, self.suite.retrieval_k, self.progress, _queries(recs))
        run = RunInfo(
            suite=self.suite.name,
            recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            provider=self.tutor.llm.provider,
            model=self.tutor.llm.model,
            judge_provider=self.judge.provider,
            judge_model=judge_name,
            prompt_template_hash=prompt_template_hash(),
            settings=_settings_snapshot(self.settings),
            items=[i.id for i in self.items],
            judged=judged,
            repeats=self.options.repeats,
            answers=answer_totals,
            judge=judge_totals,
            wall_s=round(time.perf_counter() - started, 1),
            retrieval={"k": float(retrieval.k), **retrieval.metrics},
            judge_failures=[f"{s.id}:{m}" for s in scored if s.judged for m in LLM_METRICS if s.scores.get(m) is None],
            judge_validity=cache.validity(),
        )
        scores = Scores(items=scored, aggregate=aggregate(scored), spread=spread(per_repeat))
        recording = Recording(run=run, items=[recs[i.id] for i in self.items], scores=scores)
        recording.save(self.out)
        return recording

    def _merge_run(self, previous: Recording) -> Recording:
        """Re-record the stale items only and merge them into ``previous``; the judged sample is kept."""
        started = time.perf_counter()
        redo = {i.id for i in self.items}
        golden = load_golden(self.suite.golden_dir)
        answer_totals, judge_totals = previous.run.answers.model_copy(), previous.run.judge.model_copy()
        recs = {r.id: r for r in previous.items if r.id in {g.id for g in golden}}
        for old in (r for r in previous.items if r.id in redo):  # totals count each item's latest answer once
            answer_totals.remove(old)
        recs.update(self._answer_all(answer_totals))
        judged = [j for j in previous.run.judged if j in recs]
        cache = JudgeCache(self.out / JUDGE_CACHE, "record")
        cache.entries = {k: e for k, e in cache.entries.items() if e.item not in redo}
        llm = JudgeLLM(self.judge, cache=cache)
        embeddings = JudgeEmbeddings(self.tutor.embedder_for("eval"), cache=cache)
        fresh = score_items(
            self.items, recs, [j for j in judged if j in redo], llm, embeddings, self.matcher, self.progress
        )
        _add_judge(judge_totals, llm)
        cache.save(self.out / JUDGE_CACHE)
        by_id = {**previous.scores.by_id(), **{s.id: s for s in fresh}}
        scored = [by_id[g.id] for g in golden if g.id in by_id and g.id in recs]
        retrieval = live_retrieval(self.tutor, golden, self.suite.retrieval_k, self.progress, _queries(recs))
        old_failures = [f for f in previous.run.judge_failures if f.split(":")[0] not in redo]
        run = previous.run.model_copy(
            update={
                "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "prompt_template_hash": prompt_template_hash(),
                "settings": _settings_snapshot(self.settings),
                "items": [g.id for g in golden if g.id in recs],
                "judged": judged,
                "answers": answer_totals,
                "judge": judge_totals,
                "wall_s": round(previous.run.wall_s + time.perf_counter() - started, 1),
                "retrieval": {"k": float(retrieval.k), **retrieval.metrics},
                "judge_failures": old_failures
                + [f"{s.id}:{m}" for s in fresh if s.judged for m in LLM_METRICS if s.scores.get(m) is None],
                "rerecorded": sorted(redo, key=[g.id for g in golden].index),
                "judge_validity": merged_validity(cache, redo),
            }
        )
        scores = Scores(items=scored, aggregate=aggregate(scored), spread={})
        recording = Recording(run=run, items=[recs[i] for i in run.items], scores=scores)
        recording.save(self.out)
        return recording


def build_judge(tutor: Tutor, inner: ChatModel | None = None) -> AccountedChatModel:
    """The judge behind the accounting layer (feature "eval"); the pipeline's own model when the settings
    name the same one (JUDGE_PROVIDER, JUDGE_MODEL)."""
    s = tutor.settings
    if inner is None:
        same = s.judge_provider == s.provider and (
            s.provider == "local" or (s.judge_model or s.chat_model) == s.chat_model
        )
        inner = (
            tutor.llm.inner
            if same
            else build_chat_model(
                s.model_copy(update={"provider": s.judge_provider, "chat_model": s.judge_model or s.chat_model})
            )
        )
    return AccountedChatModel(
        inner,
        ledger=tutor.ledger,
        prices=tutor.prices,
        budget=tutor.budget,
        learner_id=s.learner_id,
        session_id=tutor.session_id,
        feature="eval",
        default_max_tokens=JUDGE_MAX_TOKENS,
    )


def _add_judge(totals: Totals, llm: JudgeLLM) -> None:
    totals.calls += llm.calls
    totals.prompt_tokens += llm.usage.prompt_tokens
    totals.completion_tokens += llm.usage.completion_tokens
    totals.cost_usd += llm.cost_usd
    totals.seconds += llm.seconds


def spread(per_repeat: list[dict[str, float | None]]) -> dict[str, Spread]:
    out: dict[str, Spread] = {}
    for name in sorted({k for r in per_repeat for k in r}):
        values = [v for r in per_repeat if (v := r.get(name)) is not None]
        if values:
            out[name] = Spread(
                mean=round(statistics.fmean(values), 6),
                std=round(statistics.pstdev(values), 6) if len(values) > 1 else 0.0,
                min=min(values),
                max=max(values),
                n=len(values),
            )
    return out


def _queries(recs: dict[str, RecordedItem]) -> dict[str, str]:
    """The recorded search query of each follow-up item (what live retrieval measures them with)."""
    return {i: r.search_query for i, r in recs.items() if r.search_query}
