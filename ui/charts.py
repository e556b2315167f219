"""Charts for the Progress and Costs pages (altair), the clickable roadmap map included.

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


MAP_SELECTION = "stage"  # the map's click selection; the page reads the clicked stage number under this name


def stage_layout(roadmap: Roadmap) -> dict[str, tuple[int, int]]:
    """Each stage's (level, place): its level is the longest chain of prerequisites before it, so every line
    runs down the map from a prerequisite; places follow the stage number within a level."""
    by_id = {s.id: s for s in roadmap.stages}
    depth: dict[str, int] = {}

    def level(stage_id: str, seen: frozenset[str] = frozenset()) -> int:
        if stage_id not in depth:
            before = [p for p in by_id[stage_id].prerequisites if p in by_id and p not in seen]
            depth[stage_id] = 1 + max((level(p, seen | {stage_id}) for p in before), default=-1)
        return depth[stage_id]

    places: dict[int, int] = defaultdict(int)
    layout: dict[str, tuple[int, int]] = {}
    for s in sorted(roadmap.stages, key=lambda s: s.stage):
        at = level(s.id)
        layout[s.id] = (at, places[at])
        places[at] += 1
    return layout


def direct_prerequisites(roadmap: Roadmap) -> dict[str, list[str]]:
    """Each stage's prerequisites less those another of them already needs (maths before deep learning goes
    without saying when classic ML, which needs maths, is listed too): the map draws only these lines."""
    needs = {s.id: [p for p in s.prerequisites if p != s.id] for s in roadmap.stages}
    known = set(needs)

    def before(stage_id: str, seen: frozenset[str] = frozenset()) -> set[str]:
        found: set[str] = set()
        for p in needs.get(stage_id, []):
            if p in known and p not in seen:
                found |= {p} | before(p, seen | {stage_id})
        return found

    return {
        sid: [p for p in ps if p in known and not any(p in before(q) for q in ps if q != p)]
        for sid, ps in needs.items()
    }


def roadmap_chart(roadmap: Roadmap, mastery: Iterable[StageMastery]) -> alt.LayerChart:
    """The stages as boxes coloured by mastery, top to bottom, each prerequisite joined by a line to the stage
    below that needs it; clicking a box selects its stage number (``MAP_SELECTION``)."""
    by_id = {m.id: m for m in mastery}
    layout = stage_layout(roadmap)
    nodes = []
    for s in roadmap.stages:
        m = by_id.get(s.id)
        share = "not practised" if m is None or m.mastery is None else f"{m.mastery:.0%} of {m.items} item(s)"
        level, place = layout[s.id]
        colour = mastery_colour(m.mastery if m else None)
        nodes.append({"stage": s.stage, "label": f"{s.stage}. {s.title}", "mastery": share, "colour": colour,
                      "x": place, "y": level})  # fmt: skip
    edges = [
        {"x": layout[p][1], "y": layout[p][0], "x2": layout[sid][1], "y2": layout[sid][0]}
        for sid, ps in direct_prerequisites(roadmap).items()
        for p in ps
    ]
    hidden = alt.Axis(labels=False, ticks=False, domain=False, grid=False, title=None)
    places = max((p for _, p in layout.values()), default=0)
    levels = max((lv for lv, _ in layout.values()), default=0)
    x = alt.X("x:Q", axis=hidden, scale=alt.Scale(domain=[-0.15, places + 0.85]))  # room for the labels
    y = alt.Y("y:Q", axis=hidden, scale=alt.Scale(domain=[-0.5, levels + 0.5], reverse=True))
    pick = alt.selection_point(name=MAP_SELECTION, fields=["stage"], on="click")
    lines = alt.Chart(alt.Data(values=edges)).mark_rule(color="#999999").encode(x=x, y=y, x2="x2:Q", y2="y2:Q")
    boxes = (
        alt.Chart(alt.Data(values=nodes))
        .mark_square(size=500, stroke="#444444", cursor="pointer", opacity=1)
        .encode(
            x=x,
            y=y,
            color=alt.Color("colour:N", scale=None),
            strokeWidth=alt.when(pick, empty=False).then(alt.value(3)).otherwise(alt.value(1)),
            tooltip=[alt.Tooltip("label:N", title="stage"), alt.Tooltip("mastery:N", title="mastery")],
        )
        .add_params(pick)
    )
    labels = (
        alt.Chart(alt.Data(values=nodes))
        .mark_text(align="left", dx=16, fontSize=12, limit=190)
        .encode(x=x, y=y, text="label:N")
    )
    chart: alt.LayerChart = alt.layer(lines, boxes, labels).properties(height=48 * (levels + 1))  # type: ignore[assignment]
    return chart


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
