"""Release history of the eval suite: one line per refreshed baseline, for the "scores over releases" chart.

``history.jsonl`` sits beside ``baseline.json`` and is committed with it: every time a release re-record
refreshes the baseline (`make evals UPDATE_BASELINE=1`), its aggregate and retrieval scores are appended.
A line is keyed by the recording's time, so writing the same baseline twice adds nothing.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError

from evals.models import Baseline

CHARTED = ("key_fact_recall", "wrong_claim_rate", "decline_correctness", "faithfulness", "grounding")


class Release(BaseModel):
    """The scores one release recording blessed."""

    recorded_at: str
    model: str
    aggregate: dict[str, float | None]
    retrieval: dict[str, float]

    @classmethod
    def of(cls, baseline: Baseline) -> Release:
        return cls(
            recorded_at=baseline.recorded_at,
            model=baseline.model,
            aggregate=baseline.aggregate,
            retrieval=baseline.retrieval,
        )


def load_history(path: Path) -> list[Release]:
    """Releases oldest first; a line that does not parse (a bad merge) is skipped, never fatal to a chart."""
    if not path.is_file():
        return []
    releases: list[Release] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            releases.append(Release.model_validate_json(line))
        except ValidationError:
            continue
    return sorted(releases, key=lambda r: r.recorded_at)


def append_release(path: Path, baseline: Baseline) -> bool:
    """Add the baseline's scores to the history; False when that recording is there already."""
    if any(r.recorded_at == baseline.recorded_at for r in load_history(path)):
        return False
    with path.open("a", encoding="utf-8") as out:
        out.write(Release.of(baseline).model_dump_json() + "\n")
    return True


def scores_over_releases(releases: list[Release]) -> list[dict[str, object]]:
    """Long-form rows (release, metric, value) for a line chart: the charted answer metrics plus hit@k and MRR."""
    rows: list[dict[str, object]] = []
    for r in releases:
        values = {m: r.aggregate.get(m) for m in CHARTED}
        values |= {"hit_at_k": r.retrieval.get("hit_at_k"), "mrr": r.retrieval.get("mrr")}
        for metric, value in values.items():
            if value is not None:
                rows.append(
                    {
                        "release": r.recorded_at[:16].replace("T", " "),
                        "model": r.model,
                        "metric": metric,
                        "value": float(value),
                    }
                )
    return rows
