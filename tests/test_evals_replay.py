"""The CI replay (`tutor evals replay`, inside `make test`): no model, no network.

It passes on the committed recordings and fails, with the items named, when retrieval degrades, when a
prompt changes without re-recording, when a recorded answer is replaced by an unfaithful one, when a
golden item has no recording, and when replayed scores drift from the recorded ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from assistant.rag import prompts
from assistant.rag.retrieval import Retriever
from assistant.settings import Settings, load_settings
from evals.checks import obeyed_injection
from evals.golden import load_golden
from evals.models import ANSWERS, RUN, SCORES
from evals.replay import ReplayResult, replay
from evals.suite import Suite
from tests.conftest import MODELS_DIR, REPO
from ui.cli import app

FIXTURE = REPO / "tests" / "fixtures" / "evals"
RELEASE = REPO / "evals"


@pytest.fixture(scope="module")
def replay_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One data folder for the module, so the fixture's eval index is built once and reused."""
    return load_settings(env_file=None, DATA_DIR=tmp_path_factory.mktemp("replay"), MODEL_CACHE_DIR=MODELS_DIR)


@pytest.fixture
def suite_copy(tmp_path: Path) -> Suite:
    """A temp copy of the fixture suite (same name and corpus, so it shares the built index)."""
    target = tmp_path / "suite"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("reports", "baseline.json"))
    (target / "suite.yaml").write_text((FIXTURE / "suite.yaml").read_text().replace("[corpus]", f"[{FIXTURE}/corpus]"))
    return Suite.load(target)


def _run(settings: Settings, suite: Suite, embedder: Any) -> ReplayResult:
    return replay(settings, suite, embedder=embedder)


def _checks(result: ReplayResult) -> set[str]:
    return {f.check for f in result.failures}


def test_fixture_recording_replays_bit_identically(replay_settings, embedder):
    result = _run(replay_settings, Suite.load(FIXTURE), embedder)
    assert [f.message for f in result.failures if f.check != "threshold"] == []
    assert result.retrieval["hit_at_k"] == 1.0
    recorded = json.loads((FIXTURE / "recordings" / SCORES).read_text())
    assert result.aggregate == recorded["aggregate"]  # the judge's calls replay bit-identically
    judged = [s for s in result.items if s.judged]
    assert judged and all(s.scores["faithfulness"] is not None for s in judged)


def test_fixture_quality_gates_match_the_recorded_answers(replay_settings, embedder):
    """The committed fixture is a real recording on the embedded model, and in it the 1.5B model obeyed
    the instruction injected into the study-group notes ("Arr matey ..."). The injection gate must
    fire on exactly that, and every other quality gate must hold."""
    result = _run(replay_settings, Suite.load(FIXTURE), embedder)
    answers = {json.loads(line)["id"]: json.loads(line)["answer"] for line in (FIXTURE / "recordings" / ANSWERS).open()}
    gate = [f for f in result.failures if f.metric == "injection_resistance"]
    assert bool(gate) == obeyed_injection(answers["fx-journal-injection"])
    assert [f.message for f in result.failures if f.metric != "injection_resistance"] == []
    assert result.passed == (not gate)


def test_release_recording_replays_and_passes(replay_settings, embedder, monkeypatch):
    """The committed real recording (evals/recordings) replays offline against the committed thresholds.
    The eval index never follows the corpus' links: any attempt to build a web crawler fails the test."""
    import ingest.pipeline

    def no_crawler(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the eval index must not fetch linked pages")

    monkeypatch.setattr(ingest.pipeline, "Crawler", no_crawler)
    assert (RELEASE / "recordings" / RUN).is_file(), "no release recording: run `make evals` and commit it"
    result = _run(replay_settings, Suite.load(RELEASE), embedder)
    assert result.stale == []
    # Exactly the known, tracked failures (evals/known_failures.yaml) and nothing else: a new failing item or
    # metric, or a fixed one still listed there, fails the replay itself.
    assert [f.message for f in result.failures] == []
    assert result.passed
    known = yaml.safe_load((RELEASE / "known_failures.yaml").read_text()) or {}
    tracked = {f.metric: {r.item: round(r.value or 0, 3) for r in f.rows} for f in result.known}
    assert tracked == known
    # the wrong answer a reader found in this recording is among them; the two the eval work found
    # (data-handling-04, special-multihop-01) no longer state a wrong claim after the checked answer pipeline
    assert "cloud-and-scale-02" in known["wrong_claim_rate"]
    assert not {"data-handling-04", "special-multihop-01"} & set(known["wrong_claim_rate"])
    recorded = json.loads((RELEASE / "recordings" / SCORES).read_text())
    assert result.aggregate == recorded["aggregate"]
    usable = result.judge_validity
    assert usable and all(v.valid / v.total >= 0.8 for v in usable.values())


def _release_copy(target: Path) -> Suite:
    for name in ("golden", "recordings"):
        shutil.copytree(RELEASE / name, target / name)
    for name in ("thresholds.yaml", "known_failures.yaml"):
        shutil.copy(RELEASE / name, target / name)
    corpus = [(RELEASE / c).resolve() for c in yaml.safe_load((RELEASE / "suite.yaml").read_text())["corpus"]]
    (target / "suite.yaml").write_text(f"name: roadmap\ncorpus: [{', '.join(map(str, corpus))}]\nretrieval_k: 5\n")
    return Suite.load(target)


def test_a_wrong_answer_in_the_release_recording_fails_naming_the_item_and_the_missed_fact(
    replay_settings, embedder, tmp_path, monkeypatch
):
    """A deliberately wrong answer in a copy of the committed recording: the correctness metric fails the
    replay, naming the item and the key facts it misses, and the CLI shows both."""
    suite = _release_copy(tmp_path / "release")
    path = suite.recordings_dir / ANSWERS
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    victim = next(r for r in rows if r["id"] == "mathematics-05")
    victim["answer"] = (
        "You need a full mathematics degree before deep learning: about 600-1,000 hours, starting with measure "
        "theory and convex optimisation proofs [1]."
    )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    known_path = suite.root / "known_failures.yaml"  # the item may be a tracked failure already: not in the copy
    known = yaml.safe_load(known_path.read_text())
    known.get("key_fact_recall", {}).pop("mathematics-05", None)
    known_path.write_text(yaml.safe_dump(known))
    result = _run(replay_settings, suite, embedder)
    assert not result.passed
    recall = next(f for f in result.failures if f.metric == "key_fact_recall" and f.per_item)
    assert recall.check == "threshold" and "mathematics-05" in recall.message
    row = next(r for r in recall.rows if r.item == "mathematics-05")
    assert row.value is not None and row.value < 0.5 and "missed:" in row.note
    golden = {i.id: i for i in load_golden(suite.golden_dir)}
    hours = next(f for f in golden["mathematics-05"].key_facts if "60-100 hours" in f)
    assert hours in row.note  # the fact the wrong answer got wrong is named
    monkeypatch.setenv("DATA_DIR", str(replay_settings.data_dir))
    monkeypatch.setenv("MODEL_CACHE_DIR", str(MODELS_DIR))
    out = CliRunner().invoke(app, ["evals", "replay", "--suite", str(suite.root)])
    assert out.exit_code == 1
    assert "mathematics-05" in out.output and "missed: " in out.output and "FAIL [threshold]" in out.output


def test_known_failures_cover_exactly_their_items():
    from evals.known import KnownFailures
    from evals.thresholds import Failure, Row

    failing = Failure(
        check="threshold", metric="wrong_claim_rate", message="m", per_item=True,
        rows=[Row(item="a", value=1.0), Row(item="b", value=1.0)],
    )  # fmt: skip
    exact = KnownFailures(entries={"wrong_claim_rate": {"a": 1.0, "b": 1.0}})
    assert exact.split([failing]) == ([], [failing.model_copy(update={"check": "known"})])
    partial, _ = KnownFailures(entries={"wrong_claim_rate": {"a": 1.0}}).split([failing])
    assert partial == [failing]  # b is new: the whole failure stands
    stale, _ = KnownFailures(entries={"wrong_claim_rate": {"a": 1.0, "b": 1.0, "c": 1.0}}).split([failing])
    assert len(stale) == 1 and "c" in stale[0].message and "no longer failing" in stale[0].message
    mean = Failure(check="threshold", metric="key_fact_recall", message="mean", rows=[Row(item="a", value=0.1)])
    assert KnownFailures(entries={"key_fact_recall": {"a": 0.1}}).split([mean])[0][0] == mean  # a mean is never known


def test_broken_retrieval_fails_hit_at_k(replay_settings, suite_copy, embedder, monkeypatch):
    original = Retriever.search

    def least_similar(self: Retriever, query: str, *, top_k: int | None = None, stage: int | None = None) -> Any:
        k = top_k or self.top_k
        chunks, trace = original(self, query, top_k=50, stage=stage)
        return chunks[-k:], trace

    monkeypatch.setattr(Retriever, "search", least_similar)
    result = _run(replay_settings, suite_copy, embedder)
    assert not result.passed
    failed = {f.metric for f in result.failures if f.check == "retrieval"}
    assert "hit_at_k" in failed
    assert result.retrieval["hit_at_k"] < 1.0
    assert "stale" in _checks(result)  # the model would now see other sources, too


def test_prompt_change_without_rerecording_fails_as_stale(replay_settings, suite_copy, embedder, monkeypatch):
    monkeypatch.setattr(prompts, "ANSWER_SYSTEM", prompts.ANSWER_SYSTEM + "\n- Answer in French.")
    result = _run(replay_settings, suite_copy, embedder)
    assert not result.passed
    stale = next(f for f in result.failures if f.check == "stale")
    rows = [json.loads(line) for line in (suite_copy.recordings_dir / ANSWERS).read_text().splitlines()]
    # every item the model answered; a question declined before any model call sends no prompt to change
    ids = [r["id"] for r in rows if r["contexts"]]
    assert sorted(result.stale) == sorted(ids) and "fx-risotto" not in ids
    assert "make evals" in stale.message
    assert "retrieval" not in _checks(result)  # retrieval itself is unchanged


def test_unfaithful_answer_fails(replay_settings, suite_copy, embedder):
    path = suite_copy.recordings_dir / ANSWERS
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    run = json.loads((suite_copy.recordings_dir / RUN).read_text())
    victim = next(r for r in rows if r["id"] in run["judged"])
    victim["answer"] = (
        "Medieval bakers invented document chunking to store sourdough recipes [1]. "
        "Every chunk must weigh exactly three kilograms of flour [2]. Kafka is a famous French cheese [1]."
    )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _run(replay_settings, suite_copy, embedder)
    assert not result.passed
    # the recorded judgements do not cover the new answer: replay refuses to guess ...
    judge = next(f for f in result.failures if f.check == "judge")
    assert victim["id"] in judge.message
    # ... and the deterministic grounding gate names the item
    grounding = [f for f in result.failures if f.check == "threshold" and f.metric == "grounding"]
    assert victim["id"] in {r.item for f in grounding for r in f.rows}
    item = next(s for s in result.items if s.id == victim["id"])
    assert item.scores["grounding"] == 0.0


def test_missing_recording_and_score_drift_fail(replay_settings, suite_copy, embedder):
    golden = suite_copy.golden_dir / "extra.yaml"
    golden.write_text(
        "- id: fx-extra\n  question: What is concept drift?\n  reference_answer: A change in the relation "
        "between inputs and target.\n  stage: 8\n  kind: conceptual\n"
    )
    scores = json.loads((suite_copy.recordings_dir / SCORES).read_text())
    scores["items"][0]["scores"]["string_similarity"] = 0.999
    (suite_copy.recordings_dir / SCORES).write_text(json.dumps(scores))
    result = _run(replay_settings, suite_copy, embedder)
    assert {"coverage", "drift"} <= _checks(result)
    assert "fx-extra" in next(f for f in result.failures if f.check == "coverage").message


def test_cli_replay_exit_codes(suite_copy, replay_settings, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(replay_settings.data_dir))
    monkeypatch.setenv("MODEL_CACHE_DIR", str(MODELS_DIR))
    runner = CliRunner()
    first = runner.invoke(app, ["evals", "replay", "--suite", str(suite_copy.root), "--json"])
    data = json.loads(first.output)
    assert first.exit_code == (0 if data["passed"] else 1)
    assert data["retrieval"]["hit_at_k"] == 1.0 and data["stale"] == []
    monkeypatch.setattr(prompts, "ANSWER_SYSTEM", prompts.ANSWER_SYSTEM + " Be terse.")
    bad = runner.invoke(app, ["evals", "replay", "--suite", str(suite_copy.root)])
    assert bad.exit_code == 1
    assert "FAIL [stale]" in bad.output and "make evals" in bad.output and "FAILED" in bad.output
    missing = runner.invoke(app, ["evals", "replay", "--suite", str(suite_copy.root / "nope")])
    assert missing.exit_code == 2 and "suite.yaml" in missing.output


@pytest.mark.parametrize("args", [["evals"], ["evals", "record"], ["evals", "replay"], ["evals", "report"]])
def test_evals_commands_have_help(args):
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_cli_report_writes_files(suite_copy):
    result = CliRunner().invoke(app, ["evals", "report", "--suite", str(suite_copy.root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert Path(data["markdown"]).is_file() and Path(data["html"]).is_file() and not data["baseline_updated"]
    assert not suite_copy.baseline_path.exists()
