"""Provider faults from an OpenAI-compatible server: every one is a one-line LLMError naming a fix, never a
traceback, an empty answer or a cut answer passed off as complete; the ledger marks the call failed.

Real HTTP against the fake server on 127.0.0.1 (tests/fakes/openai_server.py, ``fault``), through the real
``openai`` client, for plain calls (``complete``), streams, the accounting layer and the ``tutor`` command.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.budget import Budget
from assistant.accounting.ledger import Ledger
from assistant.accounting.prices import PriceTable
from assistant.errors import LLMError
from assistant.llm.base import Message
from assistant.llm.openai_compat import OpenAIChatModel
from tests.conftest import ingest_folder, tutor_runner
from tests.fakes.openai_server import FakeOpenAI

MSGS = [Message(role="system", content="be brief"), Message(role="user", content="what is a tensor")]
ANSWER = "A tensor is an array of numbers with any number of axes [1]."
CHUNK = '{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"'
BODY = '{"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini"'
COMPAT_FIX = "OpenAI-compatible"  # every shape/JSON error points at the server's compatibility

# (fault, payload or None, a word the message must hold)
STREAM_FAULTS = [
    ("cut", None, "broke off"),
    ("bad_json", None, "not valid JSON"),
    ("payload", "this is not json", "not valid JSON"),
    ("payload", '{"foo": 1}', COMPAT_FIX),
    ("payload", CHUNK + "}", COMPAT_FIX),  # choices missing
    ("payload", CHUNK + ', "choices": {"0": 1}}', COMPAT_FIX),  # choices not a list
    ("payload", CHUNK + ', "choices": ["x"]}', COMPAT_FIX),  # a choice that is not an object
    ("payload", CHUNK + ', "choices": [{"index": 0, "finish_reason": null}]}', COMPAT_FIX),  # delta missing
    ("payload", CHUNK + ', "choices": [{"index": 0, "delta": "hi"}]}', COMPAT_FIX),  # delta not an object
    ("payload", CHUNK + ', "choices": [{"index": 0, "delta": {"content": 42}}]}', COMPAT_FIX),
    ("payload", CHUNK + ', "choices": [{"index": 0, "delta": {"content": ["a"]}}]}', COMPAT_FIX),
    ("payload", "[1, 2]", COMPAT_FIX),
    ("payload", "null", COMPAT_FIX),
    ("payload", '{"error": {"message": "boom sk-test-key"}}', "reported an error"),
    ("empty_200", None, "ended the stream"),
    ("no_done", None, "ended the stream"),
    ("no_content", None, "empty answer"),
    ("html_500", None, "HTTP 500"),
    ("html_200", None, COMPAT_FIX),
    ("close_before_headers", None, "closed the connection"),
]
COMPLETE_FAULTS = [
    ("cut", None, "closed the connection"),
    ("bad_json", None, "not valid JSON"),
    ("empty_200", None, "not valid JSON"),
    ("payload", "not json", "not valid JSON"),
    ("payload", '{"foo": 1}', COMPAT_FIX),
    ("payload", BODY + ', "choices": []}', COMPAT_FIX),
    ("payload", BODY + ', "choices": [{"index": 0}]}', COMPAT_FIX),  # message missing
    ("payload", BODY + ', "choices": [{"index": 0, "message": {"content": 42}}]}', COMPAT_FIX),
    ("payload", BODY + ', "choices": [{"index": 0, "message": {"content": {"a": 1}}}]}', COMPAT_FIX),
    ("payload", "null", COMPAT_FIX),
    ("payload", "[]", COMPAT_FIX),
    ("no_content", None, "empty answer"),
    ("html_500", None, "HTTP 500"),
    ("html_200", None, COMPAT_FIX),
    ("close_before_headers", None, "closed the connection"),
]


def model(fake: FakeOpenAI, **kw: Any) -> OpenAIChatModel:
    args: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "base_url": fake.base_url,
        "api_key": fake.api_key,
        "max_retries": 0,
        "timeout_s": 5,
    }
    args.update(kw)
    return OpenAIChatModel(**args)


def accounted(fake: FakeOpenAI, tmp_path: Path) -> AccountedChatModel:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    return AccountedChatModel(
        model(fake),
        ledger=ledger,
        prices=PriceTable(),
        budget=Budget(ledger, session_id="s1", session_cap=None, daily_cap=None),
        learner_id="ada",
        session_id="s1",
    )


def set_fault(fake: FakeOpenAI, fault: str, payload: str | None) -> None:
    fake.responder = lambda body: ANSWER
    fake.fault = fault
    if payload is not None:
        fake.payload = payload


def assert_one_line(exc: LLMError, fake: FakeOpenAI, word: str) -> None:
    text = str(exc)
    assert "\n" not in text and "Fix:" in text and exc.fix, text
    assert word in text, text
    assert fake.api_key not in text and "Traceback" not in text
    assert exc.__suppress_context__ or exc.__cause__ is None  # raised `from None`: no chained traceback


# --- the provider: streams ------------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "payload", "word"), STREAM_FAULTS)
def test_stream_faults_are_one_line_errors(fake_openai, fault, payload, word):
    set_fault(fake_openai, fault, payload)
    shown: list[str] = []
    with pytest.raises(LLMError) as caught:
        handle = model(fake_openai).stream(MSGS)
        for piece in handle:
            shown.append(piece)
    assert_one_line(caught.value, fake_openai, word)
    assert all(isinstance(piece, str) for piece in shown)
    if shown:  # what was shown is a draft; no completion is passed off as the answer
        assert handle.completion is None


def test_timeout_mid_stream_names_llm_timeout(fake_openai):
    set_fault(fake_openai, "stall", None)
    fake_openai.stall_s = 2.0
    handle = model(fake_openai, timeout_s=0.5).stream(MSGS)
    with pytest.raises(LLMError, match="LLM_TIMEOUT_S") as caught:
        list(handle)
    assert_one_line(caught.value, fake_openai, "mid-answer")
    assert handle.completion is None


def test_finished_stream_without_done_is_accepted(fake_openai):
    """finish_reason and usage arrived; only the [DONE] line is missing: the answer is whole."""
    set_fault(fake_openai, "no_done_after_stop", None)
    handle = model(fake_openai).stream(MSGS)
    assert handle.text() == ANSWER
    assert handle.completion is not None and handle.completion.usage.source == "provider"


def test_stall_that_recovers_within_timeout_is_fine(fake_openai):
    set_fault(fake_openai, "stall", None)
    fake_openai.stall_s = 0.2
    assert model(fake_openai, timeout_s=3).stream(MSGS).text() == ANSWER


def test_usage_of_the_wrong_shape_is_counted_instead(fake_openai):
    """Bad usage figures are the server's quirk, not a lost answer: the text stands, tokens are counted."""
    fake_openai.responder = lambda body: ANSWER
    fake_openai.fault = "payload"
    fake_openai.payload = CHUNK + ', "choices": [], "usage": {"prompt_tokens": "many", "completion_tokens": -3}}'
    handle = model(fake_openai).stream(MSGS)
    assert handle.text() == ANSWER
    assert handle.completion is not None and handle.completion.usage.completion_tokens > 0


# --- the provider: plain calls ----------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "payload", "word"), COMPLETE_FAULTS)
def test_complete_faults_are_one_line_errors(fake_openai, fault, payload, word):
    set_fault(fake_openai, fault, payload)
    with pytest.raises(LLMError) as caught:
        model(fake_openai).complete(MSGS)
    assert_one_line(caught.value, fake_openai, word)


def test_credentials_in_the_base_url_never_reach_the_message(fake_openai):
    set_fault(fake_openai, "bad_json", None)
    url = fake_openai.base_url.replace("http://", "http://user:hunter2@") + "?api-key=sk-secret"
    with pytest.raises(LLMError) as caught:
        model(fake_openai, base_url=url).complete(MSGS)
    assert "hunter2" not in str(caught.value) and "sk-secret" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_no_fault_leaks_the_key_into_logs(fake_openai, caplog):
    caplog.set_level(logging.DEBUG)
    for fault in ("cut", "bad_json", "html_500", "close_before_headers"):
        set_fault(fake_openai, fault, None)
        with pytest.raises(LLMError):
            model(fake_openai).complete(MSGS)
        with pytest.raises(LLMError):
            list(model(fake_openai).stream(MSGS))
    assert caplog.records  # the openai and httpx loggers did speak
    assert all(fake_openai.api_key not in r.getMessage() for r in caplog.records)


# --- the ledger ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "payload"),
    [("cut", None), ("payload", '{"foo": 1}'), ("bad_json", None), ("no_done", None), ("no_content", None)],
)
def test_failed_stream_is_recorded_as_failed(fake_openai, tmp_path, fault, payload):
    set_fault(fake_openai, fault, payload)
    llm = accounted(fake_openai, tmp_path)
    handle = llm.stream(MSGS)
    with pytest.raises(LLMError):
        list(handle)
    (row,) = llm.ledger.rows()
    assert not row.ok and row.error == "LLMError"
    # the prompt reached the server: its tokens are counted (and priced) like an abandoned stream's
    assert row.usage_source == "counted" and row.prompt_tokens == llm.inner.count_message_tokens(MSGS)
    assert handle.completion is None


@pytest.mark.parametrize(("fault", "payload"), [("bad_json", None), ("payload", '{"foo": 1}'), ("html_500", None)])
def test_failed_call_is_recorded_as_failed(fake_openai, tmp_path, fault, payload):
    set_fault(fake_openai, fault, payload)
    llm = accounted(fake_openai, tmp_path)
    with pytest.raises(LLMError):
        llm.complete(MSGS)
    with pytest.raises(LLMError):
        list(llm.stream(MSGS))
    rows = llm.ledger.rows()
    assert [(r.ok, r.error) for r in rows] == [(False, "LLMError"), (False, "LLMError")]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.sqlite3*"))
    assert fake_openai.api_key.encode() not in raw


# --- the command line ------------------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path, make_settings, fake_openai, mini_corpus, embedder):
    """Run `tutor ...` in a subprocess against the fake server, with the mini corpus ingested."""
    settings = make_settings()
    ingest_folder(settings, mini_corpus, embedder)
    return tutor_runner(tmp_path, settings, fake_openai, LLM_TIMEOUT_S="1")


def assert_cli_failed(proc: subprocess.CompletedProcess[str], fake: FakeOpenAI, word: str) -> None:
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Fix:" in lines[0], proc.stderr
    assert word in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert fake.api_key not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("fault", "payload", "word"), [("payload", '{"foo": 1}', COMPAT_FIX), ("cut", None, "broke")])
def test_cli_ask_stream_fault_fails_in_one_line(cli, fake_openai, fault, payload, word):
    set_fault(fake_openai, fault, payload)
    proc, ledger = cli("ask", "What maths do I need before deep learning?")
    assert_cli_failed(proc, fake_openai, word)
    assert proc.stdout.endswith("\n")  # the cut draft's line is ended before the error
    (row,) = ledger.rows(kind="chat")
    assert not row.ok and row.error == "LLMError"


def test_cli_ask_json_malformed_body_fails_in_one_line(cli, fake_openai):
    set_fault(fake_openai, "bad_json", None)
    proc, ledger = cli("ask", "What maths do I need before deep learning?", "--json")
    assert_cli_failed(proc, fake_openai, "not valid JSON")
    assert proc.stdout == ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(proc.stdout)
    (row,) = ledger.rows(kind="chat")
    assert not row.ok and row.error == "LLMError"
