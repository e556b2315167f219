"""Committed per-metric floors (``thresholds.yaml``) and the check that turns a drop into a failure.

``min`` applies to a metric's mean over the items it scores, ``item_min`` to every single item. A
threshold is never lowered to make a run pass: fix the regression, or re-record if the recording is old.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import TutorError
from evals.models import ItemScores
from evals.retrieval_metrics import RetrievalReport
from evals.score import ALL_METRICS

RETRIEVAL_METRICS = ("hit_at_k", "recall_at_k", "mrr")
KNOWN = (*RETRIEVAL_METRICS, *ALL_METRICS)


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = Field(None, ge=0, le=1)
    item_min: float | None = Field(None, ge=0, le=1)


class Row(BaseModel):
    item: str
    kind: str = ""
    value: float | None
    baseline: float | None = None

    @property
    def delta(self) -> float | None:
        return None if self.value is None or self.baseline is None else round(self.value - self.baseline, 6)


class Failure(BaseModel):
    check: Literal["retrieval", "coverage", "stale", "judge", "drift", "threshold"]
    metric: str = ""
    message: str
    rows: list[Row] = Field(default_factory=list)


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
        return found


def _worst(rows: list[Row], n: int = 8) -> list[Row]:
    return sorted(rows, key=lambda r: (r.delta if r.delta is not None else 0.0, r.value or 0.0))[:n]


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
            Row(item=s.id, kind=s.kind, value=v, baseline=(baseline or {}).get(s.id, {}).get(metric))
            for s in items
            if (v := s.scores.get(metric)) is not None
        ]
        mean = aggregate.get(metric)
        if limit.min is not None and mean is not None and mean < limit.min:
            dropped = [r for r in rows if r.delta is not None and r.delta < 0] or [
                r for r in rows if r.value is not None
            ]
            failures.append(
                Failure(
                    check="threshold",
                    metric=metric,
                    message=f"{metric} = {mean:.3f} is below its threshold {limit.min:.3f}",
                    rows=_worst(dropped),
                )
            )
        if limit.item_min is not None:
            low = [r for r in rows if r.value is not None and r.value < limit.item_min]
            if low:
                failures.append(
                    Failure(
                        check="threshold",
                        metric=metric,
                        message=f"{len(low)} item(s) score {metric} below the per-item floor {limit.item_min:.3f}",
                        rows=_worst(low),
                    )
                )
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
