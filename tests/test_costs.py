"""Cost reports: `tutor costs` (table, CSV, JSON), the answer footer, budgets at the CLI, the Costs page."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from assistant.accounting.ledger import Ledger, LedgerRow
from assistant.accounting.money import format_usd
from assistant.accounting.report import cost_report, parse_since
from assistant.errors import BudgetExceededError, TutorError
from assistant.llm.base import Message
from assistant.services import Tutor
from assistant.settings import load_settings
from tests.conftest import REPO, ingest_folder, use_fake_server
from tests.fakes.openai_server import words
from ui.cli import app
from ui.commands.costs import _cell

runner = CliRunner()
APP = str(REPO / "ui" / "app.py")
ANSWER = "Package the model with FastAPI and ship it in Docker [1]."
QUIZ_JSON = '{"question": "What does Docker package?", "answer": "the service and its dependencies"}'
QUIZ_SCHEMA = {
    "title": "QuizDraft",
    "type": "object",
    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["question", "answer"],
}
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


def gpt_4o_mini_cost(prompt: int, completion: int) -> float:
    return (prompt * 0.15 + completion * 0.60) / 1_000_000  # prices.json, USD per 1M tokens


def quiz_call(tutor: Tutor):
    messages = [Message(role="user", content="Write one question about deployment from this text: Docker ...")]
    return tutor.llm.for_feature("quiz").complete(messages, json_schema=QUIZ_SCHEMA, max_tokens=200)


@pytest.fixture
def cli_env(monkeypatch, tmp_path, openai_settings, fake_openai, mini_corpus, embedder):
    """The `tutor` command in a fresh folder, on the fake OpenAI server, with the mini corpus ingested."""
    ingest_folder(openai_settings, mini_corpus, embedder)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no .env from the repository
    use_fake_server(monkeypatch, openai_settings, fake_openai, LLM_MAX_RETRIES="0")
    fake_openai.responder = lambda body: QUIZ_JSON if body.get("response_format") else ANSWER
    return openai_settings


# --- the acceptance path ---------------------------------------------------------------------------
def test_ask_and_quiz_show_in_costs_with_server_usage_priced_per_table(cli_env, fake_openai):
    fake_openai.prompt_tokens = 1234
    asked = runner.invoke(app, ["ask", "How do I deploy a model?"])
    assert asked.exit_code == 0, asked.output
    # `tutor quiz` is still being written; its calls are structured calls like this one, feature "quiz".
    quiz = quiz_call(Tutor(load_settings(env_file=None)))
    assert json.loads(quiz.text)["question"]

    shown = runner.invoke(app, ["costs", "--by", "feature", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    lines = {line["key"]: line for line in json.loads(shown.stdout)["lines"]}
    chat, quiz_line = lines["chat"], lines["quiz"]
    assert (chat["calls"], chat["prompt_tokens"], chat["completion_tokens"]) == (1, 1234, words(ANSWER))
    assert (quiz_line["calls"], quiz_line["prompt_tokens"], quiz_line["completion_tokens"]) == (
        1,
        1234,
        words(QUIZ_JSON),
    )
    assert chat["cost_usd"] == pytest.approx(gpt_4o_mini_cost(1234, words(ANSWER)))
    assert quiz_line["cost_usd"] == pytest.approx(gpt_4o_mini_cost(1234, words(QUIZ_JSON)))
    # the question's embedding and the ingest embeddings are counted too, at $0 for the local MiniLM
    # (three embedding calls: the query; the question and its evidence sentences; the answer's sentences)
    assert chat["embedding_calls"] == 3 and chat["embedding_tokens"] > 0
    assert lines["ingest"]["embedding_tokens"] > 0 and lines["ingest"]["cost_usd"] == 0
    # the answer's footer shows the same tokens and cost as the ledger
    cost = format_usd(gpt_4o_mini_cost(1234, words(ANSWER)))
    assert f"tokens: 1234 prompt + {words(ANSWER)} completion · {cost} · openai/gpt-4o-mini" in asked.stdout

    by_model = runner.invoke(app, ["costs", "--by", "model", "--format", "json"])
    models = {line["key"]: line for line in json.loads(by_model.stdout)["lines"]}
    assert models["openai/gpt-4o-mini"]["calls"] == 2 and models["local/all-MiniLM-L6-v2"]["calls"] == 0


def test_ask_json_returns_the_figures_the_ledger_records(cli_env, fake_openai):
    fake_openai.prompt_tokens = 800
    out = runner.invoke(app, ["ask", "How do I deploy a model?", "--json"])
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout)
    (row,) = Ledger(cli_env.ledger_path).rows(kind="chat")
    assert answer["usage"]["prompt_tokens"] == row.prompt_tokens == 800
    assert answer["usage"]["completion_tokens"] == row.completion_tokens == words(ANSWER)
    assert answer["cost_usd"] == row.cost_usd == pytest.approx(gpt_4o_mini_cost(800, words(ANSWER)))


def test_daily_budget_refuses_the_next_paid_call_before_any_request(cli_env, fake_openai, monkeypatch):
    monkeypatch.setenv("DAILY_BUDGET_USD", "0.001")
    fake_openai.prompt_tokens = 6000  # each answer costs about $0.0009
    first = runner.invoke(app, ["ask", "How do I deploy a model?"])
    assert first.exit_code == 0, first.output
    assert len(fake_openai.requests) == 1

    second = runner.invoke(app, ["ask", "How do I deploy a model?"])
    assert second.exit_code == 2
    assert second.stderr.startswith("error: Refused before sending") and "DAILY_BUDGET_USD" in second.stderr
    assert "Traceback" not in second.output
    with pytest.raises(BudgetExceededError, match="DAILY_BUDGET_USD"):
        quiz_call(Tutor(load_settings(env_file=None)))
    assert len(fake_openai.requests) == 1  # the fake server saw neither refused call


# --- the report ------------------------------------------------------------------------------------
def seed(ledger: Ledger) -> None:
    def row(days: float, feature, model, *, kind="chat", provider="openai", prompt=0, completion=0, cost=0.0, ok=True):
        ledger.record(
            LedgerRow(
                ts=NOW - timedelta(days=days),
                learner_id="ada",
                session_id=f"s{int(days)}",
                feature=feature,
                kind=kind,
                provider=provider,
                model=model,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=cost,
                latency_s=1.0,
                ok=ok,
                error=None if ok else "LLMError",
            )
        )

    row(0, "chat", "gpt-4o-mini", prompt=100, completion=10, cost=0.002)
    row(0, "chat", "all-MiniLM-L6-v2", kind="embedding", provider="local", prompt=12)
    row(0, "quiz", "gpt-4o-mini", prompt=300, completion=30, cost=0.004)
    row(1, "quiz", "gpt-4o", prompt=50, completion=5, cost=0.01, ok=False)
    row(3, "ingest", "all-MiniLM-L6-v2", kind="embedding", provider="local", prompt=900)


def test_report_groups_by_day_feature_and_model(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    seed(ledger)
    by_day = cost_report(ledger, by="day")
    assert [line.key for line in by_day.lines] == ["2026-11-17", "2026-11-19", "2026-11-20"]
    today = by_day.lines[-1]
    assert (today.calls, today.embedding_calls, today.prompt_tokens, today.embedding_tokens) == (2, 1, 400, 12)
    assert today.cost_usd == pytest.approx(0.006)
    by_feature = {line.key: line for line in cost_report(ledger, by="feature").lines}
    assert by_feature["quiz"].calls == 2 and by_feature["quiz"].failed == 1
    assert by_feature["ingest"].embedding_tokens == 900 and by_feature["ingest"].prompt_tokens == 0
    by_model = {line.key: line for line in cost_report(ledger, by="model").lines}
    assert set(by_model) == {"openai/gpt-4o-mini", "openai/gpt-4o", "local/all-MiniLM-L6-v2"}
    total = cost_report(ledger, by="model").total
    assert (total.calls, total.embedding_calls, total.cost_usd) == (3, 2, pytest.approx(0.016))
    recent = cost_report(ledger, by="feature", since=parse_since("2d", now=NOW))
    assert {line.key for line in recent.lines} == {"chat", "quiz"} and recent.total.cost_usd == pytest.approx(0.016)
    assert cost_report(ledger, by="day", session_id="s1").total.calls == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("2w", NOW - timedelta(weeks=2)),
        ("today", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:00:00+02:00", datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ],
)
def test_since_accepts_durations_and_dates(text, expected):
    assert parse_since(text, now=NOW) == expected


def test_unreadable_since_is_a_one_line_error(tmp_path, monkeypatch):
    with pytest.raises(TutorError, match="7d"):
        parse_since("last tuesday")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    out = runner.invoke(app, ["costs", "--since", "last tuesday"])
    assert out.exit_code == 2 and out.stderr.startswith("error: Cannot read --since") and "Traceback" not in out.output


def test_costs_on_a_fresh_clone_says_nothing_was_recorded_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    out = runner.invoke(app, ["costs"])
    assert out.exit_code == 0 and "No model calls recorded" in out.stdout
    assert json.loads(runner.invoke(app, ["costs", "--json"]).stdout)["lines"] == []
    assert not (tmp_path / "data").exists()


def test_table_and_csv_show_model_names_as_plain_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    ledger = Ledger(tmp_path / "data" / "ledger.sqlite3")
    for model in ("[bold red]pwned[/] [link=http://evil.example]x[/link]", "=HYPERLINK(1)"):
        ledger.record(LedgerRow(learner_id="a", session_id="s", feature="chat", provider="openai", model=model))
    table = runner.invoke(app, ["costs", "--by", "model"])
    assert table.exit_code == 0, table.output
    assert "[bold red]pwned[/]" in table.stdout and "[link=http://evil.example]x[/link]" in table.stdout
    assert "\x1b" not in table.stdout
    csv_out = runner.invoke(app, ["costs", "--by", "model", "--format", "csv"]).stdout.splitlines()
    assert csv_out[0].startswith("model,calls,embedding_calls,failed,prompt_tokens")
    assert "openai/=HYPERLINK(1),1,0,0,0,0,0,0,0.0,0.0" in csv_out[1:]
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("day") == "day"  # never a live formula


# --- the Costs page --------------------------------------------------------------------------------
def test_costs_page_shows_today_session_breakdown_and_budget(cli_env, fake_openai, monkeypatch):
    monkeypatch.setenv("DAILY_BUDGET_USD", "0.5")
    Ledger(cli_env.ledger_path).record(
        LedgerRow(
            ts=datetime.now(UTC) - timedelta(days=2),
            learner_id="ada",
            session_id="older",
            feature="quiz",
            provider="openai",
            model="<b>bold</b> [x](http://evil.example)",
            prompt_tokens=10,
            cost_usd=0.25,
        )
    )
    fake_openai.prompt_tokens = 1000
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.chat_input[0].set_value("How do I deploy a model?").run()
    assert not at.exception
    at.switch_page("pages/costs.py").run()
    assert not at.exception
    cost = gpt_4o_mini_cost(1000, words(ANSWER))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Spent this session"] == format_usd(cost)
    assert metrics["Spent today (UTC)"] == format_usd(cost)  # the older call was two days ago
    budget = " ".join(t.value for t in at.text)
    assert "DAILY_BUDGET_USD=$0.5" in budget and "SESSION_BUDGET_USD: no cap" in budget
    frames = [df.value for df in at.dataframe]
    assert len(frames) == 3  # by day, by feature, by model
    models = set(frames[2]["model"])
    assert {"openai/gpt-4o-mini", "openai/<b>bold</b> [x](http://evil.example)", "total"} <= models
    assert not any("evil.example" in m.value for m in at.markdown)
    features = frames[1].set_index("feature")
    assert features.loc["chat", "cost (USD)"] == pytest.approx(cost)
    assert features.loc["total", "cost (USD)"] == pytest.approx(cost + 0.25)
    assert [h.value for h in at.subheader][-1] == "Answer quality by release"  # the committed eval history
    assert any("release recordings of the golden set" in c.value for c in at.caption)


def test_costs_help_lists_its_options():
    out = runner.invoke(app, ["costs", "--help"])
    assert out.exit_code == 0
    assert all(opt in out.stdout for opt in ("--since", "--by", "--format", "--json"))
