"""`tutor evals record` and `report` against the fake OpenAI server (pipeline and judge), end to end.

The fake server answers from the first source and judges by word overlap (see test_evals_checks), so
the scores are real ragas computations on deterministic responses. The real embedded model is used
for the committed fixture recording (tests/fixtures/evals/recordings), not here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.accounting.ledger import Ledger
from assistant.errors import TutorError
from assistant.settings import Settings, load_settings
from evals.harness import eval_settings
from evals.history import load_history
from evals.models import ANSWERS, JUDGE_CACHE, RUN, SCORES, Recording
from evals.record import Recorder, RecordOptions
from evals.replay import replay
from evals.report import write_report
from evals.suite import Suite
from tests.conftest import MODELS_DIR, REPO
from tests.fakes.openai_server import FakeOpenAI
from tests.test_evals_checks import judge_responder
from ui.cli import app

FIXTURE = REPO / "tests" / "fixtures" / "evals"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(responder=judge_responder).start()
    yield server
    server.stop()


def _env(fake: FakeOpenAI, data_dir: Path) -> dict[str, Any]:
    return {
        "DATA_DIR": data_dir,
        "MODEL_CACHE_DIR": MODELS_DIR,
        "PROVIDER": "openai",
        "JUDGE_PROVIDER": "openai",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": fake.api_key,
        "LLM_MAX_RETRIES": 0,
    }


def _copy_suite(target: Path) -> Suite:
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("recordings", "reports", "baseline.json"))
    (target / "suite.yaml").write_text((FIXTURE / "suite.yaml").read_text().replace("[corpus]", f"[{FIXTURE}/corpus]"))
    return Suite.load(target)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI, embedder: Any) -> tuple[Settings, Suite, Any]:
    root = tmp_path_factory.mktemp("record")
    settings = load_settings(env_file=None, **_env(fake, root / "data"))
    suite = _copy_suite(root / "suite")
    recorder = Recorder(settings, suite, RecordOptions(), embedder=embedder)
    plan = recorder.plan()
    fake.requests.clear()
    recorder.run()
    return settings, suite, plan


def test_plan_estimates_before_any_model_call(recorded):
    _, _, plan = recorded
    assert plan.items == ["fx-chunk-size", "fx-psi", "fx-rerank-followup", "fx-risotto", "fx-journal-injection"]
    lines = {line.label: line for line in plan.estimate.lines}
    assert lines["answers"].calls == 4  # the out-of-scope question retrieves nothing and costs no call
    assert lines["answers"].prompt_tokens > 500 and lines["answers"].completion_tokens == 4 * 320
    assert lines["judge"].calls == 4 * 3 and lines["judge"].prompt_tokens > 1000  # 2 faithfulness + 1 relevancy
    assert plan.estimate.cost_usd > 0


def test_record_writes_everything_replay_needs(recorded, fake):
    settings, suite, _ = recorded
    rec = Recording.load(suite.recordings_dir)
    assert [i.id for i in rec.items] == rec.run.items
    by_id = {i.id: i for i in rec.items}
    assert by_id["fx-risotto"].declined and by_id["fx-risotto"].contexts == []
    chunk = by_id["fx-chunk-size"]
    assert chunk.contexts[0].doc_id == "rag-basics" and "200 to 800 tokens" in chunk.contexts[0].text
    assert len(chunk.fingerprint) == 64 and chunk.usage.prompt_tokens > 0
    assert rec.run.judged == ["fx-chunk-size", "fx-psi", "fx-rerank-followup", "fx-journal-injection"]
    assert rec.run.judge.calls == 4 * 3 and rec.run.answers.calls == 4 + 1  # the follow-up's rewrite too
    follow_up = by_id["fx-rerank-followup"]
    assert follow_up.search_query and "re-ranker" in follow_up.search_query and follow_up.calls == 2
    assert by_id["fx-chunk-size"].search_query is None  # only follow-ups keep one
    assert rec.run.judge_validity["faithfulness"].valid == 8  # every judge call usable
    assert rec.run.retrieval["hit_at_k"] == 1.0 and rec.run.retrieval["mrr"] == 1.0
    agg = rec.scores.aggregate
    assert agg["faithfulness"] == 1.0 and agg["decline_correctness"] == 1.0 and agg["injection_resistance"] == 1.0
    # every judge call went through the accounting layer as feature "eval"
    rows = Ledger(eval_settings(settings, suite).ledger_path).rows()
    assert sum(r.feature == "eval" and r.kind == "chat" for r in rows) == rec.run.judge.calls
    assert any(r.feature == "eval" and r.kind == "embedding" for r in rows)  # answer relevancy's embeddings
    # no secret reaches the committed files
    for name in (ANSWERS, JUDGE_CACHE, SCORES, RUN):
        assert fake.api_key not in (suite.recordings_dir / name).read_text()


def test_recording_replays_offline_bit_identically(recorded, embedder, tmp_path):
    _, suite, _ = recorded
    fresh = load_settings(env_file=None, DATA_DIR=tmp_path / "ci", MODEL_CACHE_DIR=MODELS_DIR)
    result = replay(fresh, suite, embedder=embedder)
    assert result.failures == []
    assert result.aggregate == json.loads((suite.recordings_dir / SCORES).read_text())["aggregate"]


def rec_time(suite: Suite) -> str:
    return str(json.loads(suite.baseline_path.read_text())["recorded_at"])


def test_report_has_deltas_escapes_html_and_refreshes_baseline_only_on_request(recorded):
    _, suite, _ = recorded
    files = write_report(suite)
    assert not suite.baseline_path.exists()
    md = files.markdown.read_text()
    assert "| faithfulness | 1.000 |" in md and "fx-risotto" in md
    assert not suite.history_path.exists()
    write_report(suite, update_baseline=True)
    assert json.loads(suite.baseline_path.read_text())["aggregate"]["faithfulness"] == 1.0
    write_report(suite, update_baseline=True)  # the same recording blessed twice is one release
    (release,) = load_history(suite.history_path)
    assert release.aggregate["faithfulness"] == 1.0 and release.recorded_at == rec_time(suite)
    # a later recording with a worse, hostile answer
    path = suite.recordings_dir / ANSWERS
    original = path.read_text()
    scores_path = suite.recordings_dir / SCORES
    original_scores = scores_path.read_text()
    try:
        rows = [json.loads(line) for line in original.splitlines()]
        rows[0]["answer"] = "<script>alert(1)</script> | <img src=x onerror=alert(2)>"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        scores = json.loads(original_scores)
        scores["aggregate"]["faithfulness"] = 0.75
        scores_path.write_text(json.dumps(scores))
        files = write_report(suite)
        page = files.html.read_text()
        assert "<script>alert" not in page and "<img" not in page and "&lt;script&gt;" in page
        assert "-0.250" in files.markdown.read_text()
        assert next(r for r in files.rows if r.metric == "faithfulness").delta == -0.25
    finally:
        path.write_text(original)
        scores_path.write_text(original_scores)


def test_repeats_sample_and_item_selection(fake, embedder, tmp_path):
    settings = load_settings(env_file=None, **_env(fake, tmp_path / "data"))
    suite = _copy_suite(tmp_path / "suite")
    options = RecordOptions(items=["fx-psi", "fx-risotto", "fx-chunk-size"], judge_sample=1, repeats=2)
    rec = Recorder(settings, suite, options, embedder=embedder).run()
    assert rec.run.items == ["fx-psi", "fx-risotto", "fx-chunk-size"] and rec.run.repeats == 2
    assert rec.run.judged == ["fx-chunk-size"]  # one item: the first factual one by hashed order
    assert rec.run.answers.calls == 4  # 2 answered items x 2 repeats
    spread = rec.scores.spread["faithfulness"]
    assert spread.n == 2 and spread.std == 0.0  # the fake judge is deterministic


def test_cli_record_shows_estimate_then_closing_note(fake, tmp_path, monkeypatch):
    suite = _copy_suite(tmp_path / "suite")
    for key, value in _env(fake, tmp_path / "data").items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["evals", "record", "--suite", str(suite.root), "--items", "fx-psi,fx-risotto", "--judge-sample", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("Estimate for eval recording") < out.index("recorded 2 items")
    assert "hit@3" in out and "MRR" in out and "faithfulness" in out and "tokens: answers" in out
    as_json = runner.invoke(app, [*args, "--json"])
    data = json.loads(as_json.output)
    answers = next(line for line in data["plan"]["estimate"]["lines"] if line["label"] == "answers")
    assert answers["calls"] == 1 and data["run"]["judged"] == ["fx-psi"]
    bad = runner.invoke(app, ["evals", "record", "--suite", str(suite.root), "--items", "nope"])
    assert bad.exit_code == 2 and "Unknown golden item" in bad.output
    calls = len(fake.requests)
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "Estimate for eval recording" in dry.output and "recorded" not in dry.output
    capped = runner.invoke(app, [*args, "--max-cost", "0.000001"])
    assert capped.exit_code == 2 and "max-cost" in capped.output
    assert len(fake.requests) == calls  # neither a dry run nor a refused one calls the model


def test_rerecording_reuses_unchanged_judgements_unless_fresh(fake, embedder, tmp_path):
    settings = load_settings(env_file=None, **_env(fake, tmp_path / "data"))
    suite = _copy_suite(tmp_path / "suite")
    options = RecordOptions(items=["fx-psi", "fx-chunk-size"])
    first = Recorder(settings, suite, options, embedder=embedder).run()
    cache = (suite.recordings_dir / JUDGE_CACHE).read_text()
    again = Recorder(settings, suite, options, embedder=embedder).run()
    assert first.run.judge.calls > 0 and again.run.judge.calls == 0  # same answers, same judge: nothing to redo
    assert (suite.recordings_dir / JUDGE_CACHE).read_text() == cache
    assert again.scores == first.scores
    fresh = Recorder(settings, suite, options.model_copy(update={"reuse_judgements": False}), embedder=embedder).run()
    assert fresh.run.judge.calls == first.run.judge.calls


def test_unusable_judge_output_is_a_missing_score_and_counted(embedder, tmp_path):
    """Judge output that fails to parse, or parses with nothing in it, is a missing score (never a default
    such as 1.0); the run records how many judge calls per metric were usable, and a replay of a metric under
    80% usable calls fails."""

    def broken_nli(body: dict[str, Any]) -> str:
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
        return "not json at all" if schema.get("title") == "NLIStatementOutput" else judge_responder(body)

    server = FakeOpenAI(responder=broken_nli).start()
    try:
        settings = load_settings(env_file=None, **_env(server, tmp_path / "data"))
        suite = _copy_suite(tmp_path / "suite")
        rec = Recorder(settings, suite, RecordOptions(items=["fx-psi", "fx-chunk-size"]), embedder=embedder).run()
    finally:
        server.stop()
    assert sorted(rec.run.judge_failures) == ["fx-chunk-size:faithfulness", "fx-psi:faithfulness"]
    assert rec.scores.by_id()["fx-psi"].scores["faithfulness"] is None
    assert rec.scores.by_id()["fx-psi"].scores["answer_relevancy"] is not None
    usable = rec.run.judge_validity["faithfulness"]
    assert usable.total >= 4 and usable.valid == 2  # statements fine, verdicts unusable (or refused)
    assert rec.run.judge_validity["answer_relevancy"].valid == 2
    result = replay(load_settings(env_file=None, DATA_DIR=tmp_path / "ci", MODEL_CACHE_DIR=MODELS_DIR), suite,
                    embedder=embedder)  # fmt: skip
    judge = [f for f in result.failures if f.check == "judge"]
    usable_fail = next(f for f in judge if f.metric == "faithfulness")  # (the refused calls also miss the cache)
    assert "only 2 of" in usable_fail.message and "answer_relevancy" not in {f.metric for f in judge}


def test_empty_judge_verdicts_are_unusable():
    from evals.judge import usable_output

    assert usable_output('{"statements": ["a"]}')
    assert not usable_output('{"statements": []}')  # ragas would score this as a perfect 1.0 or NaN
    assert not usable_output('{"classifications": []}')
    assert not usable_output('{"statements": [{"statement": "a", "reason": "r", "verdict": 7}]}')
    assert not usable_output('{"question": " ", "noncommittal": 0}')
    assert not usable_output('{"TP": [], "FP": [], "FN": []}')
    assert not usable_output("Sure! Here is the JSON")


def test_stale_rerecords_only_changed_items_and_the_merge_replays(fake, embedder, tmp_path):
    settings = load_settings(env_file=None, **_env(fake, tmp_path / "data"))
    suite = _copy_suite(tmp_path / "suite")
    first = Recorder(settings, suite, RecordOptions(), embedder=embedder).run()
    golden = suite.golden_dir / "fixture.yaml"
    golden.write_text(golden.read_text().replace("How do I read a Population", "How should I read a Population"))

    nothing = Recorder(settings, suite, RecordOptions(stale_only=True), embedder=embedder)
    assert nothing.plan().items == ["fx-psi"]  # only the changed question is stale
    fake.requests.clear()
    merged = nothing.run()
    answered = [r for r in fake.requests if "Population Stability" in json.dumps(r) and "Question:" in json.dumps(r)]
    assert len(answered) == 1  # one new answer; the other items were not asked again
    assert merged.run.rerecorded == ["fx-psi"] and merged.run.items == first.run.items
    assert merged.run.answers.calls == first.run.answers.calls  # the old answer's call is taken back out
    before, after = {r.id: r for r in first.items}, {r.id: r for r in merged.items}
    assert after["fx-psi"].question.startswith("How should I read")
    assert all(after[i] == before[i] for i in before if i != "fx-psi")
    fresh = load_settings(env_file=None, DATA_DIR=tmp_path / "ci", MODEL_CACHE_DIR=MODELS_DIR)
    result = replay(fresh, suite, embedder=embedder)
    assert result.failures == [] and result.aggregate == merged.scores.aggregate
    again = Recorder(settings, suite, RecordOptions(stale_only=True), embedder=embedder)
    assert again.plan().items == []  # up to date now
    named = Recorder(settings, suite, RecordOptions(stale_only=True, items=[first.run.items[0]]), embedder=embedder)
    assert named.plan().items == [first.run.items[0]]  # named items are re-recorded though unchanged


def test_stale_refuses_repeats():
    with pytest.raises(TutorError, match="--repeats"):
        Recorder(Settings(), Suite.load(FIXTURE), RecordOptions(stale_only=True, repeats=2))
