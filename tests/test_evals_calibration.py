"""Judge calibration: the labelled answers, the measures scored against them, and the CLI that prints it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evals.calibrate import DETERMINISTIC, Calibrator, catch_line
from evals.calibration import CALIBRATION_DIR, load_results, load_set
from evals.suite import Suite
from tests.conftest import MODELS_DIR
from tests.fakes.openai_server import FakeOpenAI
from tests.test_evals_checks import judge_responder
from ui.cli import app

SUITE = Suite.load()


def test_the_labelled_set_is_large_mixed_and_holds_the_known_wrong_answers():
    rows = load_set()
    assert len(rows) >= 60
    labels = {label: [r for r in rows if r.label == label] for label in ("correct", "partly", "wrong")}
    assert all(len(v) >= 10 for v in labels.values())
    wrong = {r.item for r in labels["wrong"] if r.origin == "recorded"}
    assert {"data-handling-04", "special-multihop-01"} <= wrong
    kinds = {r.perturbation for r in rows if r.origin == "perturbed"}
    assert {"swap", "number", "reverse"} <= kinds  # answers made wrong on purpose
    assert all(r.reason and r.contexts and r.question for r in rows)


def test_committed_results_say_how_far_each_measure_is_trusted():
    results = load_results()
    det = results[DETERMINISTIC].measures["key_fact_recall"]
    assert det.rows == len(load_set()) and det.catch_rate is not None and det.false_alarms is not None
    assert det.catch_by_origin["recorded"] >= 0.85 and det.false_alarms <= 0.1
    judges = [r for k, r in results.items() if k != DETERMINISTIC]
    assert judges, "run `tutor evals calibrate` to measure the embedded judge"
    assert all("catches" in catch_line(r, "faithfulness") for r in judges)


@pytest.fixture
def calibration_copy(tmp_path: Path) -> Path:
    target = tmp_path / "calibration"
    shutil.copytree(CALIBRATION_DIR, target, ignore=shutil.ignore_patterns("judge-*.jsonl"))
    return target


def test_calibrating_a_judge_scores_every_row_and_saves_its_calls(calibration_copy, embedder, tmp_path):
    server = FakeOpenAI(responder=judge_responder).start()
    try:
        from assistant.settings import load_settings

        settings = load_settings(
            env_file=None,
            DATA_DIR=tmp_path / "data",
            MODEL_CACHE_DIR=MODELS_DIR,
            JUDGE_PROVIDER="openai",
            PROVIDER="openai",
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY=server.api_key,
            LLM_MAX_RETRIES=0,
        )
        calibrator = Calibrator(settings, SUITE, embedder=embedder, folder=calibration_copy)
        report = calibrator.run(limit=4)
        calls = len(server.requests)
        again = Calibrator(settings, SUITE, embedder=embedder, folder=calibration_copy).run(limit=4)
        assert len(server.requests) == calls  # the second run is served from the saved calls
    finally:
        server.stop()
    judge = report.results[1]
    assert judge.judge_model.startswith("openai/") and judge.rows == 4
    for metric in ("faithfulness", "answer_correctness"):
        found = judge.measures[metric]
        assert found.rows + found.unscored == 4 and found.catch_rate is not None
    assert again.results[1] == judge
    saved = json.loads((calibration_copy / "results.json").read_text())
    assert judge.judge_model in saved and DETERMINISTIC in saved
    assert list(calibration_copy.glob("judge-openai-*.jsonl"))


def test_cli_prints_agreement_and_catch_rate(calibration_copy, tmp_path, monkeypatch: Any):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODEL_CACHE_DIR", str(MODELS_DIR))
    out = CliRunner().invoke(app, ["evals", "calibrate", "--no-judge", "--dir", str(calibration_copy)])
    assert out.exit_code == 0, out.output
    assert "fact matcher on" in out.output and "agreement" in out.output
    assert "this metric catches" in out.output and "of wrong answers" in out.output
    help_text = CliRunner().invoke(app, ["evals", "calibrate", "--help"]).output
    assert "--fit-matcher" in help_text and "--limit" in help_text
