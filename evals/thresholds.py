"""Committed per-metric limits (``thresholds.yaml``) and the check that turns a drop into a failure.

``min`` applies to a metric's mean over the items it scores, ``item_min`` to every single item; metrics where
lower is better (``wrong_claim_rate``) take ``max`` and ``item_max``. A threshold is never loosened to make a
run pass: fix the regression, or re-record if the recording is old.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import TutorError
from evals.models import ItemScores
from evals.retrieval_metrics import RetrievalReport
from evals.score import ALL_METRICS, LOWER_IS_BETTER

RETRIEVAL_METRICS = ("hit_at_k", "recall_at_k", "mrr")
KNOWN = (*RETRIEVAL_METRICS, *ALL_METRICS)


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = Field(None, ge=0, le=1)
    item_min: float | None = Field(None, ge=0, le=1)
    max: float | None = Field(None, ge=0, le=1)
    item_max: float | None = Field(None, ge=0, le=1)


class Row(BaseModel):
    item: str
    kind: str = ""
    value: float | None
    baseline: float | None = None
    note: str = ""  # what the metric found on this item (missed key facts, a wrong claim stated)

    @property
    def delta(self) -> float | None:
        return None if self.value is None or self.baseline is None else round(self.value - self.baseline, 6)


class Failure(BaseModel):
    check: Literal["retrieval", "coverage", "stale", "judge", "drift", "threshold", "known"]
    metric: str = ""
    message: str
    rows: list[Row] = Field(default_factory=list)
    per_item: bool = False  # an item floor: every row is a failing item (a known failure can cover it)


class Thresholds(BaseModel):
    metrics: dict[str, Threshold]

    @classmethod
    def load(cls, path: Path) -> Thresholds:
        if not path.is_file():
            raise TutorError(f"{path} does not exist.", "commit a thresholds.yaml next to the golden set.")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            found = cls(metrics={str(k): Threshold.model_validate(v) for k, v in dict(raw).items()})
        except (yaml.YAMLError, ValidationError, TypeError, ValueError) as exc:
            raise TutorError(f"{path} is invalid: {str(exc).splitlines()[0]}.", "fix thresholds.yaml.") from None
        unknown = sorted(set(found.metrics) - set(KNOWN))
        if unknown:
            raise TutorError(f"{path.name} names unknown metric(s): {', '.join(unknown)}.", f"use {', '.join(KNOWN)}.")
        for name, limit in found.metrics.items():
            wrong_way = (limit.min, limit.item_min) if name in LOWER_IS_BETTER else (limit.max, limit.item_max)
            if any(v is not None for v in wrong_way):
                side = "max/item_max" if name in LOWER_IS_BETTER else "min/item_min"
                raise TutorError(f"{path.name}: {name} takes {side}.", "fix thresholds.yaml.")
        return found


def _worst(rows: list[Row], n: int = 8, *, higher_is_worse: bool = False) -> list[Row]:
    sign = -1.0 if higher_is_worse else 1.0
    return sorted(rows, key=lambda r: (sign * (r.delta or 0.0), sign * (r.value or 0.0)))[:n]


def _mean_failure(metric: str, mean: float, limit: float, rows: list[Row], *, lower: bool) -> Failure:
    worse = [r for r in rows if r.delta is not None and (r.delta > 0 if lower else r.delta < 0)]
    relation = "above its limit" if lower else "below its threshold"
    return Failure(
        check="threshold",
        metric=metric,
        message=f"{metric} = {mean:.3f} is {relation} {limit:.3f}",
        rows=_worst(worse or [r for r in rows if r.value is not None], higher_is_worse=lower),
    )


def _item_failure(metric: str, rows: list[Row], limit: float, *, lower: bool) -> Failure:
    relation = "above the per-item limit" if lower else "below the per-item floor"
    return Failure(
        check="threshold",
        metric=metric,
        message=f"{len(rows)} item(s) score {metric} {relation} {limit:.3f}: {', '.join(r.item for r in rows)}",
        rows=rows,
        per_item=True,
    )


def check_scores(
    thresholds: Thresholds,
    aggregate: dict[str, float | None],
    items: list[ItemScores],
    baseline: dict[str, dict[str, float | None]] | None = None,
) -> list[Failure]:
    failures = []
    for metric, limit in thresholds.metrics.items():
        if metric in RETRIEVAL_METRICS:
            continue
        rows = [
            Row(
                item=s.id,
                kind=s.kind,
                value=v,
                baseline=(baseline or {}).get(s.id, {}).get(metric),
                note=s.notes.get(metric, ""),
            )
            for s in items
            if (v := s.scores.get(metric)) is not None
        ]
        mean = aggregate.get(metric)
        if metric in LOWER_IS_BETTER:
            if limit.max is not None and mean is not None and mean > limit.max:
                failures.append(_mean_failure(metric, mean, limit.max, rows, lower=True))
            high = [r for r in rows if limit.item_max is not None and r.value is not None and r.value > limit.item_max]
            if high and limit.item_max is not None:
                failures.append(_item_failure(metric, high, limit.item_max, lower=True))
            continue
        if limit.min is not None and mean is not None and mean < limit.min:
            failures.append(_mean_failure(metric, mean, limit.min, rows, lower=False))
        low = [r for r in rows if limit.item_min is not None and r.value is not None and r.value < limit.item_min]
        if low and limit.item_min is not None:
            failures.append(_item_failure(metric, low, limit.item_min, lower=False))
    return failures


def check_retrieval(thresholds: Thresholds, report: RetrievalReport) -> list[Failure]:
    failures = []
    values = report.metrics
    for metric in RETRIEVAL_METRICS:
        limit = thresholds.metrics.get(metric)
        if limit is None or limit.min is None or values[metric] >= limit.min:
            continue
        field = {"hit_at_k": "hit", "recall_at_k": "recall", "mrr": "rr"}[metric]
        rows = [Row(item=i.id, value=getattr(i, field)) for i in report.items if getattr(i, field) < 1.0]
        failures.append(
            Failure(
                check="retrieval",
                metric=metric,
                message=f"retrieval {metric.replace('_at_k', f'@{report.k}')} = {values[metric]:.3f} "
                f"is below its threshold {limit.min:.3f}",
                rows=_worst(rows),
            )
        )
    return failures
