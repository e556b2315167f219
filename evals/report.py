"""The eval report: Markdown and HTML in ``<suite>/reports/``, with deltas against the baseline.

Every text that came from a document, a question or a model is escaped (HTML) or made table-safe
(Markdown); the HTML has no scripts and no external resources, only an inline SVG bar chart.
"""

from __future__ import annotations

import html
from pathlib import Path

from pydantic import BaseModel

from evals.calibrate import DETERMINISTIC, catch_line
from evals.calibration import load_results
from evals.history import append_release
from evals.models import Baseline, Recording, write_json
from evals.score import ALL_METRICS, CORRECTNESS, LLM_METRICS, LOWER_IS_BETTER
from evals.suite import Suite
from evals.thresholds import RETRIEVAL_METRICS, Thresholds


class MetricRow(BaseModel):
    metric: str
    value: float | None
    threshold: float | None
    baseline: float | None
    spread: str = ""
    trust: str = ""  # how far the measure is trusted, from evals/calibration/results.json

    @property
    def delta(self) -> float | None:
        return None if self.value is None or self.baseline is None else self.value - self.baseline

    @property
    def status(self) -> str:
        if self.value is None:
            return "n/a"
        if self.threshold is None:
            return "ok"
        worse = self.value > self.threshold if self.metric in LOWER_IS_BETTER else self.value < self.threshold
        return "FAIL" if worse else "ok"


class ReportFiles(BaseModel):
    markdown: Path
    html: Path
    baseline_updated: bool = False
    rows: list[MetricRow]


def _fmt(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def metric_rows(recording: Recording, thresholds: Thresholds, baseline: Baseline | None) -> list[MetricRow]:
    rows = []
    for name in RETRIEVAL_METRICS:
        limit = thresholds.metrics.get(name)
        rows.append(
            MetricRow(
                metric=name,
                value=recording.run.retrieval.get(name),
                threshold=limit.min if limit else None,
                baseline=baseline.retrieval.get(name) if baseline else None,
            )
        )
    calibrated = load_results()
    for name in ALL_METRICS:
        limit = thresholds.metrics.get(name)
        spread = recording.scores.spread.get(name)
        who = recording.run.judge_model if name in LLM_METRICS else DETERMINISTIC if name in CORRECTNESS else ""
        result = calibrated.get(who)
        trust = catch_line(result, "key_fact_recall" if who == DETERMINISTIC else name) if result else ""
        if name in LLM_METRICS and not trust:
            trust = f"judge {who} not calibrated: run `tutor evals calibrate`"
        rows.append(
            MetricRow(
                metric=name,
                value=recording.scores.aggregate.get(name),
                threshold=(limit.max if name in LOWER_IS_BETTER else limit.min) if limit else None,
                baseline=baseline.aggregate.get(name) if baseline else None,
                spread=f"{spread.mean:.3f} ± {spread.std:.3f} (n={spread.n})" if spread and spread.n > 1 else "",
                trust=trust,
            )
        )
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(recording: Recording, rows: list[MetricRow], baseline: Baseline | None) -> str:
    run = recording.run
    k = int(run.retrieval.get("k", 0))
    a, j = run.answers, run.judge
    out = [
        f"# Eval report: {run.suite}",
        "",
        f"- recorded: {run.recorded_at}; answers by `{run.provider}/{run.model}`, judged by `{run.judge_model}`",
        f"- items: {len(run.items)} answered, {len(run.judged)} LLM-judged; repeats: {run.repeats}; "
        f"prompt template `{run.prompt_template_hash}`; retrieval k = {k}",
        f"- answer calls: {a.calls}, {a.prompt_tokens} prompt + {a.completion_tokens} completion tokens, "
        f"${a.cost_usd:.4f}, {a.seconds:.0f} s",
        f"- judge calls: {j.calls}, {j.prompt_tokens} prompt + {j.completion_tokens} completion tokens, "
        f"${j.cost_usd:.4f}, {j.seconds:.0f} s; wall time {run.wall_s:.0f} s",
        f"- baseline: {baseline.recorded_at + ' (' + baseline.model + ')' if baseline else 'none yet'}",
        *([f"- re-recorded with --stale at {run.recorded_at}: {', '.join(run.rerecorded)}"] if run.rerecorded else []),
        "",
        "## Aggregate scores",
        "",
        "| metric | value | limit | baseline | delta | status | spread over repeats | how far it is trusted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r.metric} | {_fmt(r.value)} | {_fmt(r.threshold)} | {_fmt(r.baseline)} | {_fmt(r.delta, signed=True)} "
        f"| {r.status} | {r.spread} | {_cell(r.trust)} |"
        for r in rows
    ]
    if run.judge_validity:
        usable = ", ".join(f"{m} {v.valid}/{v.total}" for m, v in run.judge_validity.items())
        out += ["", f"Usable judge calls (valid JSON with content) per metric: {usable}."]
    missed = [(s.id, m, note) for s in recording.scores.items for m, note in s.notes.items()]
    if missed:
        out += ["", "## What the correctness metric found", "", "| item | metric | finding |", "|---|---|---|"]
        out += [f"| {_cell(i)} | {m} | {_cell(note)} |" for i, m, note in missed]
    shown = [m for m in ALL_METRICS if any(s.scores.get(m) is not None for s in recording.scores.items)]
    out += ["", "## Per item", "", "| item | kind | declined | judged | " + " | ".join(shown) + " |"]
    out.append("|---|---|---|---|" + "---|" * len(shown))
    for s in recording.scores.items:
        values = []
        for m in shown:
            v = s.scores.get(m)
            b = baseline.items.get(s.id, {}).get(m) if baseline else None
            delta = f" ({v - b:+.2f})" if v is not None and b is not None and abs(v - b) >= 0.005 else ""
            values.append(_fmt(v, 2) + delta)
        out.append(f"| {_cell(s.id)} | {s.kind} | {'yes' if s.declined else ''} | {'yes' if s.judged else ''} | "
                   + " | ".join(values) + " |")  # fmt: skip
    out += ["", "## Answers", ""]
    for rec in recording.items:
        out += [
            f"### {_cell(rec.id)}",
            "",
            f"> {_cell(rec.question)}",
            "",
            "```text",
            rec.answer.replace("```", "'''"),
            "```",
            "",
        ]
    return "\n".join(out) + "\n"


def _svg(rows: list[MetricRow]) -> str:
    bars = [r for r in rows if r.value is not None]
    width, bar_h, gap, label_w = 640, 16, 6, 170
    height = len(bars) * (bar_h + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    scale = width - label_w - 60
    for n, r in enumerate(bars):
        y = gap + n * (bar_h + gap)
        value = max(0.0, min(1.0, r.value or 0.0))
        color = "#c0392b" if r.status == "FAIL" else "#2e86c1"
        parts.append(f'<text x="0" y="{y + 12}" font-size="12">{html.escape(r.metric)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{value * scale:.1f}" height="{bar_h}" fill="{color}"/>')
        if r.threshold is not None:
            x = label_w + r.threshold * scale
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 2}" y2="{y + bar_h + 2}" stroke="#000"/>')
        parts.append(f'<text x="{label_w + value * scale + 4:.1f}" y="{y + 12}" font-size="12">{value:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(recording: Recording, rows: list[MetricRow], baseline: Baseline | None) -> str:
    e = html.escape
    run = recording.run
    head = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Eval report: {e(run.suite)}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
        ".FAIL{color:#c0392b;font-weight:bold}pre{white-space:pre-wrap;background:#f6f6f6;padding:6px}</style></head><body>"
    )
    body = [
        f"<h1>Eval report: {e(run.suite)}</h1><ul>",
        f"<li>recorded {e(run.recorded_at)}; answers by <code>{e(run.provider)}/{e(run.model)}</code>, "
        f"judged by <code>{e(run.judge_model)}</code></li>",
        f"<li>{len(run.items)} items answered, {len(run.judged)} LLM-judged, {run.repeats} repeat(s)</li>",
        f"<li>tokens: answers {run.answers.tokens} (${run.answers.cost_usd:.4f}), judge {run.judge.tokens} "
        f"(${run.judge.cost_usd:.4f}); wall time {run.wall_s:.0f} s</li>",
        f"<li>baseline: {e(baseline.recorded_at) if baseline else 'none yet'}</li>",
        *([f"<li>re-recorded with --stale: {e(', '.join(run.rerecorded))}</li>"] if run.rerecorded else []),
        "</ul>",
        "<h2>Aggregate scores</h2>",
        _svg(rows),
        "<table><tr><th>metric</th><th>value</th><th>limit</th><th>baseline</th><th>delta</th><th>status</th>"
        "<th>spread</th><th>how far it is trusted</th></tr>",
    ]
    for r in rows:
        body.append(
            f"<tr><td>{e(r.metric)}</td><td>{_fmt(r.value)}</td><td>{_fmt(r.threshold)}</td><td>{_fmt(r.baseline)}</td>"
            f"<td>{_fmt(r.delta, signed=True)}</td><td class='{r.status}'>{r.status}</td><td>{e(r.spread)}</td>"
            f"<td>{e(r.trust)}</td></tr>"
        )
    body.append("</table><h2>Per item</h2><table><tr><th>item</th><th>kind</th><th>declined</th>")
    body.append("".join(f"<th>{e(m)}</th>" for m in ALL_METRICS) + "</tr>")
    for s in recording.scores.items:
        cells = "".join(f"<td>{_fmt(s.scores.get(m), 2)}</td>" for m in ALL_METRICS)
        body.append(f"<tr><td>{e(s.id)}</td><td>{e(s.kind)}</td><td>{'yes' if s.declined else ''}</td>{cells}</tr>")
    body.append("</table><h2>Answers</h2>")
    for rec in recording.items:
        body.append(f"<h3>{e(rec.id)}</h3><p><b>{e(rec.question)}</b></p><pre>{e(rec.answer)}</pre>")
    return head + "".join(body) + "</body></html>\n"


def write_report(suite: Suite, *, update_baseline: bool = False) -> ReportFiles:
    recording = Recording.load(suite.recordings_dir)
    thresholds = Thresholds.load(suite.thresholds_path)
    baseline = Baseline.load(suite.baseline_path)
    rows = metric_rows(recording, thresholds, baseline)
    suite.reports_dir.mkdir(parents=True, exist_ok=True)
    md, page = suite.reports_dir / "report.md", suite.reports_dir / "report.html"
    md.write_text(markdown(recording, rows, baseline), encoding="utf-8")
    page.write_text(to_html(recording, rows, baseline), encoding="utf-8")
    if update_baseline:
        blessed = Baseline.of(recording)
        write_json(suite.baseline_path, blessed)
        append_release(suite.history_path, blessed)
    return ReportFiles(markdown=md, html=page, baseline_updated=update_baseline, rows=rows)
