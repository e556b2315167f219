"""Charts for the Progress and Costs pages (altair) and the roadmap map (Graphviz DOT).

Pure functions from the stores' records to chart specs: the pages only place them, tests read the data.
Labels come from our own roadmap and ledger; the DOT text quotes every label, so a title cannot add nodes,
edges or attributes to the graph.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

import altair as alt

from assistant.accounting.ledger import LedgerRow
from assistant.practice.progress import Attempt, StageMastery
from assistant.roadmap import Roadmap

UNPRACTISED = "#d9d9d9"
MASTERY_COLOURS = ((0.5, "#f4a582"), (0.8, "#fee08b"), (1.01, "#a6d96a"))  # weak, on the way, solid
USAGE_TITLES = {"tokens": "tokens", "cost_usd": "cost (USD)"}
MASTERY_LEGEND = "grey: not practised · red: under 50% · yellow: under 80% · green: 80% and over"


def mastery_colour(mastery: float | None) -> str:
    if mastery is None:
        return UNPRACTISED
    return next(colour for upper, colour in MASTERY_COLOURS if mastery < upper)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def roadmap_dot(roadmap: Roadmap, mastery: Iterable[StageMastery]) -> str:
    """The stages as a left-to-right graph, prerequisite first, each node filled by the learner's mastery."""
    by_id = {m.id: m for m in mastery}
    stage_ids = {s.id for s in roadmap.stages}
    lines = [
        "digraph roadmap {",
        '  rankdir=LR; node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=11];',
    ]
    for s in roadmap.stages:
        m = by_id.get(s.id)
        share = "" if m is None or m.mastery is None else f"\\n{m.mastery:.0%} of {m.items} item(s)"
        label = f"{s.stage}. {s.title}".replace("\\", "/").replace('"', "'") + share
        lines.append(f'  {_quoted(s.id)} [label="{label}", fillcolor="{mastery_colour(m.mastery if m else None)}"];')
    for s in roadmap.stages:
        lines += [f"  {_quoted(p)} -> {_quoted(s.id)};" for p in s.prerequisites if p in stage_ids]
    lines.append("}")
    return "\n".join(lines)


def stage_mastery_chart(stages: list[StageMastery]) -> alt.Chart:
    rows = [
        {"stage": f"{s.stage}. {s.title}", "order": s.stage, "mastery": s.mastery or 0.0, "items": s.items}
        for s in stages
    ]
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("mastery:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="mastery"),
            y=alt.Y("stage:N", sort=alt.EncodingSortField("order"), title=None),
            tooltip=["stage:N", alt.Tooltip("mastery:Q", format=".0%"), "items:Q"],
        )
    )


def daily_practice(attempts: Iterable[Attempt]) -> list[dict[str, object]]:
    """Per UTC day: how many answers and their mean score."""
    days: dict[date, list[float]] = defaultdict(list)
    for a in attempts:
        days[a.answered_at.date()].append(a.score)
    return [
        {"day": d.isoformat(), "answers": len(s), "mean_score": round(sum(s) / len(s), 3)}
        for d, s in sorted(days.items())
    ]


def practice_chart(attempts: Iterable[Attempt]) -> alt.LayerChart:
    base = alt.Chart(alt.Data(values=daily_practice(attempts))).encode(x=alt.X("day:O", title=None))
    bars = base.mark_bar(opacity=0.5).encode(y=alt.Y("answers:Q", title="answers"), tooltip=["day:O", "answers:Q"])
    line = base.mark_line(point=True, color="#1a9850").encode(
        y=alt.Y("mean_score:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="mean score"),
        tooltip=["day:O", alt.Tooltip("mean_score:Q", format=".0%", title="mean score")],
    )
    return alt.layer(bars, line).resolve_scale(y="independent")


def daily_usage(rows: Iterable[LedgerRow]) -> list[dict[str, object]]:
    """Per UTC day and feature: tokens (prompt + completion, embeddings included) and cost."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        cell = totals[(r.ts.date().isoformat(), r.feature)]
        cell[0] += r.prompt_tokens + r.completion_tokens
        cell[1] += r.cost_usd
    return [
        {"day": day, "feature": feature, "tokens": int(t), "cost_usd": round(c, 6)}
        for (day, feature), (t, c) in sorted(totals.items())
    ]


def usage_chart(rows: Iterable[LedgerRow], measure: str) -> alt.Chart:
    """Stacked bars per day, one colour per feature; ``measure`` is "tokens" or "cost_usd"."""
    return (
        alt.Chart(alt.Data(values=daily_usage(rows)))
        .mark_bar()
        .encode(
            x=alt.X("day:O", title=None),
            y=alt.Y(f"{measure}:Q", stack=True, title=USAGE_TITLES[measure]),
            color=alt.Color("feature:N"),
            tooltip=["day:O", "feature:N", f"{measure}:Q"],
        )
    )


def quality_chart(rows: list[dict[str, object]]) -> alt.Chart:
    """Eval scores per release (``evals.history.scores_over_releases`` rows): one line per metric, 0..1."""
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("release:O", title=None),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="score"),
            color=alt.Color("metric:N"),
            tooltip=["release:O", "model:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
        )
    )
