"""The release history behind the "answer quality by release" chart: appended once per blessed baseline."""

from __future__ import annotations

from pathlib import Path

from evals.history import Release, append_release, load_history, scores_over_releases
from evals.models import Baseline
from evals.suite import Suite
from ui.charts import quality_chart


def baseline(at: str, recall: float, mrr: float) -> Baseline:
    return Baseline(
        recorded_at=at, model="local/qwen", judge_model="local/qwen", items={},
        aggregate={"key_fact_recall": recall, "wrong_claim_rate": 0.1, "faithfulness": None, "rouge_l": 0.3},
        retrieval={"k": 5.0, "hit_at_k": 0.95, "mrr": mrr},
    )  # fmt: skip


def test_releases_are_appended_once_and_read_oldest_first(tmp_path: Path):
    path = tmp_path / "history.jsonl"
    assert load_history(path) == []
    assert append_release(path, baseline("2026-12-03T08:00:00+00:00", 0.45, 0.83))
    assert append_release(path, baseline("2026-12-01T08:00:00+00:00", 0.30, 0.81))
    assert not append_release(path, baseline("2026-12-03T08:00:00+00:00", 0.99, 0.99))  # already there
    with path.open("a") as out:
        out.write("<<<<<<< a bad merge\n")
    releases = load_history(path)
    assert [r.aggregate["key_fact_recall"] for r in releases] == [0.30, 0.45]


def test_the_chart_plots_answer_and_retrieval_metrics_per_release_and_skips_missing_scores():
    rows = scores_over_releases([Release.of(baseline("2026-12-03T08:27:32+00:00", 0.45, 0.83))])
    by_metric = {r["metric"]: r["value"] for r in rows}
    assert by_metric == {"key_fact_recall": 0.45, "wrong_claim_rate": 0.1, "hit_at_k": 0.95, "mrr": 0.83}
    assert {r["release"] for r in rows} == {"2026-12-03 08:27"}
    spec = quality_chart(rows).to_dict()
    assert spec["encoding"]["y"]["scale"]["domain"] == [0, 1] and spec["data"]["values"] == rows


def test_the_committed_history_holds_the_current_baseline():
    suite = Suite.load()
    current = Baseline.load(suite.baseline_path)
    assert current is not None
    assert load_history(suite.history_path)[-1].recorded_at == current.recorded_at
