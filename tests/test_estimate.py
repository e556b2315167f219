"""Estimates before spending, and the --max-cost guard that stops a batch before any call."""

import pytest
import tiktoken
import typer
from typer.testing import CliRunner

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.budget import Budget
from assistant.accounting.embedding import account_embedder
from assistant.accounting.estimate import CostEstimator, CostLimitError, budget_note, enforce_max_cost
from assistant.accounting.ledger import Ledger, LedgerRow
from assistant.accounting.prices import PriceTable
from assistant.llm.base import Message
from assistant.llm.openai_compat import OpenAIChatModel
from ui.common import JsonOpt
from ui.cost_guard import MaxCostOpt, guard_cost

runner = CliRunner()
SCHEMA = {"title": "Q", "type": "object", "properties": {"question": {"type": "string"}}}
CHUNKS = [f"Chunk {i}: gradient descent updates weights against the gradient of the loss." for i in range(40)]


def accounted(fake, tmp_path, model="gpt-4o-mini", daily_cap=None):
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    inner = OpenAIChatModel(model=model, base_url=fake.base_url, api_key=fake.api_key, max_retries=0)
    budget = Budget(ledger, session_id="s1", session_cap=None, daily_cap=daily_cap)
    return AccountedChatModel(
        inner, ledger=ledger, prices=PriceTable(), budget=budget, learner_id="ada", session_id="s1", feature="quiz"
    )


def quiz_plan(llm, n=10):
    est = CostEstimator("quiz generation")
    for chunk in CHUNKS[:n]:
        messages = [Message(role="system", content="Write one quiz question."), Message(role="user", content=chunk)]
        est.chat(llm, messages, 360, json_schema=SCHEMA, label="drafts")
        est.chat(llm, messages, 24, label="checks")
    return est.result()


def test_batch_estimate_adds_up_the_accounting_layers_own_estimates(fake_openai, tmp_path):
    llm = accounted(fake_openai, tmp_path)
    estimate = quiz_plan(llm, n=10)
    assert estimate.calls == 20 and [line.label for line in estimate.lines] == ["drafts", "checks"]
    one = [Message(role="system", content="Write one quiz question."), Message(role="user", content=CHUNKS[0])]
    usage, _ = llm.estimate(one, 360, SCHEMA)
    assert estimate.lines[0].prompt_tokens == 10 * usage.prompt_tokens
    assert estimate.completion_tokens == 10 * (360 + 24)
    expected = (estimate.prompt_tokens * 0.15 + estimate.completion_tokens * 0.60) / 1e6
    assert estimate.cost_usd == pytest.approx(expected)
    assert "20 calls" in estimate.summary() and "openai/gpt-4o-mini" in estimate.summary()
    assert fake_openai.requests == []  # estimating sends nothing


def test_max_cost_stops_before_any_call(fake_openai, tmp_path):
    llm = accounted(fake_openai, tmp_path)
    estimate = quiz_plan(llm)
    with pytest.raises(CostLimitError, match="--max-cost"):
        enforce_max_cost(estimate, estimate.cost_usd / 2)
    enforce_max_cost(estimate, estimate.cost_usd)  # at the limit: allowed
    enforce_max_cost(estimate, None)
    assert fake_openai.requests == []


def test_paid_embedding_ingestion_is_estimated_with_tiktoken():
    est = CostEstimator("ingestion")
    est.embedding_texts(CHUNKS, model="text-embedding-3-small", prices=PriceTable())
    estimate = est.result()
    tokens = sum(len(tiktoken.get_encoding("cl100k_base").encode(c)) for c in CHUNKS)
    (line,) = estimate.lines
    assert (line.kind, line.calls, line.prompt_tokens) == ("embedding", 2, tokens)  # 40 texts in batches of 32
    assert estimate.cost_usd == pytest.approx(tokens * 0.02 / 1e6)
    assert "embedded tokens" in estimate.summary() and "up to" not in estimate.summary()


def test_local_embeddings_are_estimated_free(embedder, tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    wrapped = account_embedder(
        embedder,
        ledger=ledger,
        prices=PriceTable(),
        budget=Budget(ledger, session_id="s", session_cap=None, daily_cap=None),
        learner_id="a",
        session_id="s",
        feature="ingest",
        model="all-MiniLM-L6-v2",
    )
    est = CostEstimator("ingestion")
    est.embeddings(wrapped, CHUNKS)
    estimate = est.result()
    assert estimate.cost_usd == 0 and estimate.prompt_tokens == wrapped.count_tokens(CHUNKS)
    assert "free (local model)" in estimate.summary() and ledger.rows() == []


def test_unknown_paid_model_is_flagged_in_the_estimate(fake_openai, tmp_path):
    fake_openai.known_models.add("brand-new-model")
    estimate = quiz_plan(accounted(fake_openai, tmp_path, model="brand-new-model"), n=1)
    assert estimate.cost_usd == 0 and not estimate.lines[0].priced
    assert "no price known for openai/brand-new-model" in estimate.summary()


def test_budget_note_warns_when_the_estimate_passes_a_cap(fake_openai, tmp_path):
    llm = accounted(fake_openai, tmp_path, daily_cap=0.001)
    llm.ledger.record(
        LedgerRow(learner_id="a", session_id="x", feature="chat", provider="openai", model="m", cost_usd=0.0009)
    )
    estimate = quiz_plan(llm)
    assert "DAILY_BUDGET_USD" in (budget_note(estimate, llm.budget.status()) or "")
    relaxed = Budget(llm.ledger, session_id="s1", session_cap=None, daily_cap=100)
    assert budget_note(estimate, relaxed.status()) is None


def test_cli_guard_prints_the_estimate_then_stops_with_a_one_line_error(fake_openai, tmp_path):
    llm = accounted(fake_openai, tmp_path)
    estimate = quiz_plan(llm)
    calls = []
    cli = typer.Typer()

    @cli.command()
    def batch(max_cost: MaxCostOpt = None, as_json: JsonOpt = False) -> None:
        guard_cost(estimate, max_cost, as_json=as_json, budget=llm.budget)
        calls.append("sent")

    stopped = runner.invoke(cli, ["--max-cost", "0.0001"])
    assert stopped.exit_code == 2 and calls == []
    assert stopped.stdout.startswith("Estimate for quiz generation:")
    assert stopped.stderr.startswith("error: The quiz generation is estimated at") and "Traceback" not in stopped.output
    allowed = runner.invoke(cli, ["--max-cost", "1", "--json"])
    assert allowed.exit_code == 0 and calls == ["sent"]
    assert allowed.stdout == "" and "Estimate for quiz generation" in allowed.stderr  # JSON stdout stays clean
