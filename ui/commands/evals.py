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

    STEPWISE = ("answer", "judge", "faithfulness", "answer_correctness")

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
    if result.judge_validity:
        usable = ", ".join(f"{m} {v.valid}/{v.total}" for m, v in result.judge_validity.items())
        lines.append(f"usable judge calls: {usable}")
    for label, found in (("FAIL", result.failures), ("KNOWN", result.known)):
        for f in found:
            lines.append(f"{label} [{f.check}] {f.message}")
            if f.rows and f.check != "stale":
                lines += _rows_text(f.rows)
    known = f" ({len(result.known)} known failure(s), tracked in known_failures.yaml)" if result.known else ""
    lines.append(f"PASSED{known}" if result.passed else f"FAILED: {len(result.failures)} check(s)")
    return "\n".join(lines)


def _rows_text(rows: list[Any]) -> list[str]:
    lines = [f"    {'item':<32} {'kind':<13} {'value':>7} {'baseline':>9} {'delta':>7}"]
    for r in rows:
        value = "–" if r.value is None else f"{r.value:.3f}"
        base = "–" if r.baseline is None else f"{r.baseline:.3f}"
        delta = "–" if r.delta is None else f"{r.delta:+.3f}"
        lines.append(f"    {r.item:<32} {r.kind:<13} {value:>7} {base:>9} {delta:>7}")
        if r.note:
            lines.append(f"      {r.note}")
    return lines


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


@evals_app.command("rescore")
def rescore(suite: SuiteOpt = None, as_json: JsonOpt = False) -> None:
    """Score the recorded answers again with the current metrics (no model call) and update scores.json.

    Use it after changing key facts, metric code or the matcher calibration; answers are not re-recorded.
    """
    from evals.rescore import rescore as run_rescore
    from evals.suite import Suite

    cfg = _load()
    recording = run_safely(lambda: run_rescore(cfg, Suite.load(suite)))
    if as_json:
        emit_json({"aggregate": recording.scores.aggregate})
        return
    for name, value in recording.scores.aggregate.items():
        typer.echo(f"  {name:<22} {'n/a' if value is None else f'{value:.3f}'}")
    typer.echo(f"scores written to {Suite.load(suite).recordings_dir}")


@evals_app.command("calibrate")
def calibrate(
    suite: SuiteOpt = None,
    judge: Annotated[
        Provider | None, typer.Option("--judge", help="Judge to measure (default: JUDGE_PROVIDER, the embedded one).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only N labelled rows (taken round-robin over labels).")
    ] = None,
    no_judge: Annotated[bool, typer.Option("--no-judge", help="Measure the deterministic metric only.")] = False,
    fit_matcher: Annotated[
        bool, typer.Option("--fit-matcher", help="Fit the fact matcher on the labelled pairs and save it.")
    ] = False,
    build_set: Annotated[
        bool, typer.Option("--build-set", help="Freeze verdicts and perturbed answers into set.jsonl first.")
    ] = False,
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="Calibration folder (default: evals/calibration/).", file_okay=False),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """How far each correctness measure can be trusted: agreement with labelled answers, wrong answers caught.

    Scores evals/calibration/set.jsonl (answers labelled correct / partly / wrong) with the key-fact metric
    and the judge (ragas faithfulness and answer correctness). Judge calls are cached per judge model, so a
    second run is instant; results go to evals/calibration/results.json and into the eval report.
    """
    from evals.calibrate import Calibrator, catch_line
    from evals.calibration import CALIBRATION_DIR, load_set
    from evals.calibration import build_set as build
    from evals.suite import Suite

    cfg = _load(judge=judge)
    where = folder or CALIBRATION_DIR

    def go() -> Any:
        the_suite = Suite.load(suite)
        if build_set:
            build(the_suite.root, where)
        total = len(load_set(where))
        rows = total if limit is None else min(limit, total)
        if not as_json and not no_judge:
            typer.echo(f"plan: {rows} labelled rows x {2} judged metrics, about {rows * 4} judge calls "
                       "(cached calls are free; on the embedded model about 20-40 s per new call)")  # fmt: skip
        with _progress(as_json) as bar:
            calibrator = Calibrator(cfg, the_suite, folder=where, progress=bar.update)
            return calibrator.run(limit=limit, with_judge=not no_judge, fit_matcher=fit_matcher)

    report = run_safely(go)
    if as_json:
        emit_json(report.model_dump(mode="json"))
        return
    m = report.matcher
    typer.echo(
        f"fact matcher on {m.pairs} labelled pairs and the labelled recorded answers: "
        + ", ".join(f"{k} {v:.1%} right" for k, v in m.accuracy.items())
        + f" (w_cov {m.params.w_cov}, w_neg {m.params.w_neg}, threshold {m.params.threshold}; wrong claims: "
        f"w_cov {m.params.claim_w_cov}, threshold {m.params.claim_threshold}, margin {m.params.claim_margin})"
        + (" - fitted and saved" if m.fitted else "")
    )
    typer.echo("  by kind of pair: " + ", ".join(f"{k} {v:.0%}" for k, v in m.by_how.items()))
    for result in report.results:
        typer.echo(f"{result.judge_model} on {result.rows} labelled answers:")
        for name, a in result.measures.items():
            means = ", ".join(f"{k} {v:.2f}" for k, v in a.mean_by_label.items())
            agree = "n/a" if a.agreement is None else f"{a.agreement:.0%}"
            partly = "" if a.partly_flagged is None else f"; flags {a.partly_flagged:.0%} of partly-right ones"
            typer.echo(f"  {name:<18} agreement {agree}; {catch_line(result, name)}{partly}; mean by label: {means}"
                       + (f"; {a.unscored} unscored (judge output unusable)" if a.unscored else ""))  # fmt: skip
