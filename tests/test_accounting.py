"""Every call is budgeted, priced and recorded; the ledger survives threads and kills."""

import subprocess
import sys
import threading

import pytest

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.budget import Budget
from assistant.accounting.ledger import Ledger, LedgerRow
from assistant.accounting.prices import PriceTable
from assistant.errors import BudgetExceededError, LLMError
from assistant.llm.base import Message, Usage
from assistant.llm.openai_compat import OpenAIChatModel

MSGS = [Message(role="user", content="explain overfitting in two lines")]


def accounted(fake, tmp_path, session_cap=None, daily_cap=None, max_tokens=100):
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    inner = OpenAIChatModel(model="gpt-4o-mini", base_url=fake.base_url, api_key=fake.api_key, max_retries=0)
    budget = Budget(ledger, session_id="s1", session_cap=session_cap, daily_cap=daily_cap)
    return AccountedChatModel(
        inner,
        ledger=ledger,
        prices=PriceTable(),
        budget=budget,
        learner_id="ada",
        session_id="s1",
        feature="chat",
        default_max_tokens=max_tokens,
    )


def test_price_table_prices_usage():
    prices = PriceTable()
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, cached_prompt_tokens=0)
    assert prices.cost("openai", "gpt-4o-mini", usage) == pytest.approx(0.15 + 0.60)
    assert prices.cost("openai", "gpt-4o-mini-2024-07-18", usage) == pytest.approx(0.75)
    assert prices.cost("local", "qwen2.5-coder-1.5b", usage) == 0.0
    cached = Usage(prompt_tokens=1_000_000, completion_tokens=0, cached_prompt_tokens=500_000)
    assert prices.cost("openai", "gpt-4o-mini", cached) == pytest.approx(0.075 + 0.0375)


def test_unknown_model_is_free_with_one_warning(caplog):
    prices = PriceTable()
    usage = Usage(prompt_tokens=10, completion_tokens=10)
    assert prices.cost("openai", "mystery-model", usage) == 0.0
    prices.cost("openai", "mystery-model", usage)
    assert sum("mystery-model" in r.message for r in caplog.records) == 1


def test_calls_are_recorded_with_server_usage(fake_openai, tmp_path):
    fake_openai.prompt_tokens = 1200
    llm = accounted(fake_openai, tmp_path)
    out = llm.complete(MSGS)
    rows = llm.ledger.rows()
    assert len(rows) == 1
    row = rows[0]
    assert (row.prompt_tokens, row.completion_tokens) == (1200, out.usage.completion_tokens)
    assert row.cost_usd == pytest.approx((1200 * 0.15 + out.usage.completion_tokens * 0.60) / 1e6)
    assert row.feature == "chat" and row.learner_id == "ada" and row.ok


def test_streamed_calls_are_recorded(fake_openai, tmp_path):
    llm = accounted(fake_openai, tmp_path)
    handle = llm.stream(MSGS)
    assert "".join(handle)
    (row,) = llm.ledger.rows()
    assert row.completion_tokens > 0 and row.usage_source == "provider"


def test_failed_calls_are_recorded_without_message(fake_openai, tmp_path):
    fake_openai.fail_next(500)
    llm = accounted(fake_openai, tmp_path)
    with pytest.raises(LLMError):
        llm.complete(MSGS)
    (row,) = llm.ledger.rows()
    assert not row.ok and row.error == "LLMError"


def test_budget_refuses_before_any_request(fake_openai, tmp_path):
    llm = accounted(fake_openai, tmp_path, daily_cap=0.001, max_tokens=2000)
    llm.ledger.record(
        LedgerRow(
            learner_id="ada",
            session_id="old",
            feature="chat",
            provider="openai",
            model="gpt-4o-mini",
            cost_usd=0.0009,
        )
    )
    with pytest.raises(BudgetExceededError, match="DAILY_BUDGET_USD"):
        llm.complete(MSGS)
    assert fake_openai.requests == []


def test_session_budget_names_its_variable(fake_openai, tmp_path):
    llm = accounted(fake_openai, tmp_path, session_cap=0.0, max_tokens=100)
    with pytest.raises(BudgetExceededError, match="SESSION_BUDGET_USD"):
        llm.complete(MSGS)
    assert fake_openai.requests == []


def test_no_prompt_or_secret_in_ledger(fake_openai, tmp_path):
    llm = accounted(fake_openai, tmp_path)
    llm.complete([Message(role="user", content="my secret study note zebra-42")])
    raw = (tmp_path / "ledger.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("ledger.sqlite3-*")
    )
    assert b"zebra-42" not in raw and fake_openai.api_key.encode() not in raw


def test_twenty_threads_lose_no_row(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite3")

    def write(n: int) -> None:
        for _ in range(10):
            ledger.record(LedgerRow(learner_id=f"l{n}", session_id="s", feature="quiz", provider="local", model="m"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger.rows()) == 200


def test_killed_writer_leaves_ledger_readable(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    script = (
        "import sys; from pathlib import Path; from assistant.accounting.ledger import Ledger, LedgerRow\n"
        f"l = Ledger(Path({str(path)!r}))\n"
        "print('ready', flush=True)\n"
        "while True: l.record(LedgerRow(learner_id='a', session_id='s', feature='chat', provider='local', model='m'))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    import time

    time.sleep(1.0)
    proc.kill()
    proc.wait()
    rows = Ledger(path).rows()
    assert rows and all(r.model == "m" and r.provider == "local" for r in rows)
