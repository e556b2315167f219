"""`tutor evals record|replay|report`: answer quality, measured on a real model and guarded in CI."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ui.common import JsonOpt, emit_json, run_safely

if TYPE_CHECKING:
    from evals.models import Recording
    from evals.record import Plan
    from evals.replay import ReplayResult

evals_app = typer.Typer(
    help="Evaluate answer quality: record on a real model, replay offline in CI, write a report.",
    no_args_is_help=True,
)


class Provider(StrEnum):
    local = "local"
    openai = "openai"


SuiteOpt = Annotated[
    Path | None,
    typer.Option("--suite", help="Suite folder holding suite.yaml (default: evals/).", file_okay=False),
]


def _load(provider: Provider | None = None, judge: Provider | None = None) -> Any:
    from assistant.settings import load_settings

    overrides: dict[str, Any] = {}
    if provider:
        overrides["PROVIDER"] = provider.value
    if judge:
        overrides["JUDGE_PROVIDER"] = judge.value
    return run_safely(lambda: load_settings(**overrides))


class LineProgress:
    """Progress as plain lines on stderr, for runs whose output goes to a log file (no terminal).

    Per-item phases (answers, judging) print every step with elapsed time and a rough time left; other
    phases print when they finish.
    """

    STEPWISE = ("answer", "judge")

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, phase: str, done: int, total: int) -> None:
        import time

        now = time.monotonic()
        start = self._started.setdefault(phase, now)
        if done == 0 or (phase not in self.STEPWISE and done < total):
            return
        elapsed = now - start
        left = elapsed / done * (total - done)
        typer.echo(f"{phase}: {done}/{total}  elapsed {elapsed:.0f} s, about {left:.0f} s left", err=True)


def _progress(as_json: bool) -> Any:
    """Bars on a terminal, plain lines in a log; nothing under --json."""
    import sys

    from ui.progress import TerminalProgress

    if as_json or sys.stderr.isatty():
        return TerminalProgress(enabled=not as_json)
    return LineProgress()


def _plan_text(plan: Plan) -> str:
    lines = [f"plan: {len(plan.items)} items, {plan.judged_estimate} of them LLM-judged", plan.estimate.summary()]
    if plan.local_seconds is not None:
        lines.append(
            f"  duration on the embedded model: roughly {plan.local_seconds / 60:.0f} min (idle 2-core machine)"
        )
    return "\n".join(lines)


def _closing_text(recording: Recording, out: Path) -> str:
    run, agg = recording.run, recording.scores.aggregate
    k = int(run.retrieval.get("k", 0))
    lines = [f"recorded {len(run.items)} items ({len(run.judged)} judged) in {run.wall_s:.0f} s -> {out}"]
    if run.rerecorded:
        lines.append(f"re-recorded at {run.recorded_at} (--stale): {', '.join(run.rerecorded)}")
    lines.append(
        f"retrieval: hit@{k} {run.retrieval.get('hit_at_k', 0):.3f}, recall@{k} "
        f"{run.retrieval.get('recall_at_k', 0):.3f}, MRR {run.retrieval.get('mrr', 0):.3f}"
    )
    for name, value in agg.items():
        spread = recording.scores.spread.get(name)
        extra = (
            f"  (mean {spread.mean:.3f} ± {spread.std:.3f} over {spread.n} repeats)" if spread and spread.n > 1 else ""
        )
        lines.append(f"  {name:<22} {'n/a' if value is None else f'{value:.3f}'}{extra}")
    if run.judge_failures:
        lines.append(f"warning: the judge could not score {len(run.judge_failures)}: {', '.join(run.judge_failures)}")
    a, j = run.answers, run.judge
    lines.append(
        f"tokens: answers {a.tokens} ({a.calls} calls, {a.seconds:.0f} s, ${a.cost_usd:.4f}); "
        f"judge {j.tokens} ({j.calls} calls, {j.seconds:.0f} s, ${j.cost_usd:.4f}, {run.judge_model})"
    )
    return "\n".join(lines)


@evals_app.command("record")
def record(
    suite: SuiteOpt = None,
    provider: Annotated[
        Provider | None, typer.Option("--provider", help="Model under test (default: PROVIDER).")
    ] = None,
    judge: Annotated[
        Provider | None, typer.Option("--judge", help="Judge model (default: JUDGE_PROVIDER, the embedded one).")
    ] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, max=20, help="Runs; reports mean and spread.")] = 1,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N golden items.")] = None,
    items: Annotated[str | None, typer.Option("--items", help="Only these item ids (comma-separated).")] = None,
    judge_sample: Annotated[
        int | None,
        typer.Option(
            "--judge-sample", min=0, help="LLM-judge only N items (spread over kinds); others: string metrics."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of <suite>/recordings/.")] = None,
    stale: Annotated[
        bool,
        typer.Option(
            "--stale",
            help="Re-record only the items whose messages changed (or that have no recording) and merge them "
            "into the committed recording; the judged sample is kept. With --items: re-record exactly those.",
        ),
    ] = False,
    fresh_judge: Annotated[
        bool, typer.Option("--fresh-judge", help="Judge everything again instead of reusing unchanged judgements.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and estimate only; no model call.")
    ] = False,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", min=0, help="Stop before any call if the estimate is over USD.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the real pipeline on the golden set, judge it with Ragas, and record everything for replay.

    The estimated calls, tokens and cost are printed before the first model call.
    """
    from assistant.accounting.estimate import enforce_max_cost
    from evals.record import Recorder, RecordOptions
    from evals.suite import Suite

    cfg = _load(provider, judge)
    options = RecordOptions(
        repeats=repeats,
        limit=limit,
        items=[i.strip() for i in items.split(",") if i.strip()] if items else None,
        judge_sample=judge_sample,
        out=out,
        reuse_judgements=not fresh_judge,
        stale_only=stale,
    )

    def go() -> tuple[Plan, Recording | None, Path]:
        recorder = Recorder(cfg, Suite.load(suite), options)
        with _progress(as_json) as bar:
            recorder.progress = bar.update
            plan = recorder.plan()
        if not as_json:
            typer.echo(_plan_text(plan))
        if dry_run:
            return plan, None, recorder.out
        if options.stale_only and not plan.items:
            if not as_json:
                typer.echo("nothing is stale: the recording matches what the pipeline would send now")
            return plan, None, recorder.out
        enforce_max_cost(plan.estimate, max_cost)
        with _progress(as_json) as bar:
            recorder.progress = bar.update
            recording = recorder.run()
        return plan, recording, recorder.out

    plan, recording, folder = run_safely(go)
    if as_json:
        emit_json(
            {
                "plan": {**plan.model_dump(mode="json"), "estimate": plan.estimate.model_dump(mode="json")},
                "run": recording.run.model_dump(mode="json") if recording else None,
                "aggregate": recording.scores.aggregate if recording else None,
                "out": str(folder),
            }
        )
    elif recording:
        typer.echo(_closing_text(recording, folder))


def _replay_text(result: ReplayResult) -> str:
    k = int(result.retrieval.get("k", 0))
    lines = [
        f"replay of '{result.suite}' (recorded {result.recorded_at}, judge {result.judge_model}) "
        f"in {result.seconds:.0f} s",
        f"retrieval: hit@{k} {result.retrieval['hit_at_k']:.3f}, recall@{k} {result.retrieval['recall_at_k']:.3f}, "
        f"MRR {result.retrieval['mrr']:.3f}",
    ]
    lines += [f"  {m:<22} {'n/a' if v is None else f'{v:.3f}'}" for m, v in result.aggregate.items()]
    for f in result.failures:
        lines.append(f"FAIL [{f.check}] {f.message}")
        if f.rows and f.check != "stale":
            lines.append(f"    {'item':<32} {'kind':<13} {'value':>7} {'baseline':>9} {'delta':>7}")
            for r in f.rows:
                value = "–" if r.value is None else f"{r.value:.3f}"
                base = "–" if r.baseline is None else f"{r.baseline:.3f}"
                delta = "–" if r.delta is None else f"{r.delta:+.3f}"
                lines.append(f"    {r.item:<32} {r.kind:<13} {value:>7} {base:>9} {delta:>7}")
    lines.append("PASSED" if result.passed else f"FAILED: {len(result.failures)} check(s)")
    return "\n".join(lines)


@evals_app.command("replay")
def replay(suite: SuiteOpt = None, as_json: JsonOpt = False) -> None:
    """Check the committed recording offline: live retrieval, staleness, replayed Ragas scores, thresholds.

    Exits 1 when any check fails. No model and no network are used.
    """
    from evals.replay import replay as run_replay
    from evals.suite import Suite

    cfg = _load()

    def go() -> ReplayResult:
        with _progress(as_json) as bar:
            return run_replay(cfg, Suite.load(suite), progress=bar.update)

    result = run_safely(go)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        typer.echo(_replay_text(result))
    if not result.passed:
        raise typer.Exit(1)


@evals_app.command("report")
def report(
    suite: SuiteOpt = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Make this recording the new baseline (a release decision).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write Markdown and HTML reports (scores, per item, deltas vs the baseline, tokens) to <suite>/reports/."""
    from evals.report import write_report
    from evals.suite import Suite

    files = run_safely(lambda: write_report(Suite.load(suite), update_baseline=update_baseline))
    if as_json:
        emit_json(files.model_dump(mode="json"))
        return
    for r in files.rows:
        value = "n/a" if r.value is None else f"{r.value:.3f}"
        delta = "" if r.delta is None else f" ({r.delta:+.3f} vs baseline)"
        typer.echo(f"  {r.metric:<22} {value}{delta}  {r.status}")
    typer.echo(f"report: {files.markdown}\nreport: {files.html}")
    if files.baseline_updated:
        typer.echo("baseline updated: commit it with the recording.")
