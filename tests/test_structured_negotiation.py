"""Structured output negotiated per server, retries only for what a retry can fix, and the server's reason
shown sanitised. Real HTTP through the real ``openai`` client against the fake server on 127.0.0.1, which
plays llama-cpp-python's server (``json_schema`` refused with a 500, ``json_object`` with a schema taken)
and a server that takes plain text only (``formats=``)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.budget import Budget
from assistant.accounting.ledger import Ledger
from assistant.accounting.prices import PriceTable
from assistant.errors import LLMError
from assistant.llm.base import Message, StructuredFormatRejected, complete_json
from assistant.llm.openai_compat import (
    REASON_CHARS,
    SCHEMA_INSTRUCTION,
    OpenAIChatModel,
    StructuredModes,
    sanitize_reason,
    strict_schema,
)
from assistant.practice.drafts import McqDraft, schema_of
from assistant.practice.quiz import QuizRequest
from tests.fakes.openai_server import FakeOpenAI
from tests.fixtures.practice.fake_model import PracticeModel
from tests.fixtures.practice.helpers import CORPUS, practice_tutor

MSGS = [Message(role="system", content="be brief"), Message(role="user", content="what is a tensor")]
SCHEMA = schema_of(McqDraft)
REPLY = json.dumps({"question": "q?", "correct_answer": "a", "wrong_answers": ["b", "c", "d"]})
FORMS = {  # formats= -> the response_format types sent, in order, before one is taken
    "any": ["json_schema"],
    "llama_cpp": ["json_schema", "json_object"],
    "text_only": ["json_schema", "json_object", "text"],
}


def model(fake: FakeOpenAI, **kw: Any) -> OpenAIChatModel:
    args: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "base_url": fake.base_url,
        "api_key": fake.api_key,
        "max_retries": 2,
        "timeout_s": 5,
        "modes": StructuredModes(),
    }
    args.update(kw)
    return OpenAIChatModel(**args)


def kinds(fake: FakeOpenAI) -> list[str]:
    return [(r.get("response_format") or {}).get("type", "text") for r in fake.requests]


def assert_one_line(exc: BaseException, fake: FakeOpenAI) -> str:
    text = str(exc)
    assert "\n" not in text and "Fix:" in text, text
    assert fake.api_key not in text and "Traceback" not in text, text
    assert all(ch.isprintable() for ch in text), repr(text)
    return text


# --- negotiation, provider level --------------------------------------------------------------------------
@pytest.mark.parametrize("formats", sorted(FORMS))
def test_each_server_gets_the_form_it_takes_and_it_is_remembered(fake_openai, formats):
    fake_openai.formats = formats
    fake_openai.responder = lambda body: REPLY
    llm = model(fake_openai)
    out = complete_json(llm, MSGS, SCHEMA)
    assert json.loads(out.text)["correct_answer"] == "a"
    assert kinds(fake_openai) == FORMS[formats]  # a refusal is never retried by the client (max_retries=2)
    assert out.extra.get("rejected_requests", 0) == len(FORMS[formats]) - 1
    taken = fake_openai.requests[-1]
    if formats == "llama_cpp":
        assert taken["response_format"] == {"type": "json_object", "schema": SCHEMA}
    if formats != "any":  # the schema is in the prompt too, after the question
        last = taken["messages"][-1]["content"]
        assert last.startswith("what is a tensor\n\n" + SCHEMA_INSTRUCTION)
        assert json.loads(last.split(SCHEMA_INSTRUCTION, 1)[1]) == SCHEMA
    # the second call goes straight to the form that worked: one request
    complete_json(llm, MSGS, SCHEMA)
    assert kinds(fake_openai) == [*FORMS[formats], FORMS[formats][-1]]


def test_the_working_form_is_remembered_per_server_and_model_for_the_process(fake_openai):
    fake_openai.formats = "llama_cpp"
    fake_openai.responder = lambda body: REPLY
    modes = StructuredModes()
    complete_json(model(fake_openai, modes=modes), MSGS, SCHEMA)
    complete_json(model(fake_openai, modes=modes), MSGS, SCHEMA)  # a new provider object, the same server
    assert kinds(fake_openai) == ["json_schema", "json_object", "json_object"]
    complete_json(model(fake_openai, modes=modes, model="gpt-4o"), MSGS, SCHEMA)  # another model: its own probe
    assert kinds(fake_openai)[3:] == ["json_schema", "json_object"]


def test_plain_calls_are_untouched_by_negotiation(fake_openai):
    fake_openai.formats = "text_only"
    out = model(fake_openai).complete(MSGS)
    assert out.text and "response_format" not in fake_openai.requests[0]
    assert fake_openai.requests[0]["messages"][-1]["content"] == "what is a tensor"


def test_strict_json_schema_is_sent_when_the_schema_allows_it(fake_openai):
    fake_openai.responder = lambda body: REPLY
    model(fake_openai).complete(MSGS, json_schema=SCHEMA)
    sent = fake_openai.requests[0]["response_format"]["json_schema"]
    assert sent["name"] == "McqDraft" and sent["strict"] is True
    assert sent["schema"]["additionalProperties"] is False and sent["schema"]["properties"] == SCHEMA["properties"]
    assert "additionalProperties" not in SCHEMA  # the caller's schema is left alone
    open_schema = {"type": "object", "properties": {"a": {"type": "string"}}}  # "a" optional: not strict
    assert strict_schema(open_schema) is None
    nested = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/P"}}},
        "required": ["items"],
        "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
    }
    strict = strict_schema(nested)
    assert strict is not None and strict["$defs"]["P"]["additionalProperties"] is False


def test_a_refusal_is_one_line_with_the_servers_reason_and_the_next_form(fake_openai):
    fake_openai.formats = "llama_cpp"
    llm = model(fake_openai)
    with pytest.raises(StructuredFormatRejected) as caught:
        llm.complete(MSGS, json_schema=SCHEMA)
    text = assert_one_line(caught.value, fake_openai)
    assert "HTTP 500: 1 validation error: {'type': 'literal_error'" in text and "json_object" in text
    assert "File " not in text and "POST /v1" not in text  # the first line (and the one it introduces) only
    assert len(fake_openai.requests) == 1


def test_refused_requests_are_failed_ledger_rows(fake_openai, tmp_path):
    fake_openai.formats = "text_only"
    fake_openai.responder = lambda body: REPLY
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    llm = AccountedChatModel(
        model(fake_openai),
        ledger=ledger,
        prices=PriceTable(),
        budget=Budget(ledger, session_id="s1", session_cap=None, daily_cap=None),
        learner_id="ada",
        session_id="s1",
        feature="quiz",
    )
    complete_json(llm, MSGS, SCHEMA)
    complete_json(llm, MSGS, SCHEMA)
    rows = ledger.rows()
    assert len(rows) == len(fake_openai.requests) == 4  # one row per request that reached the server
    assert [(r.ok, r.error) for r in rows] == [
        (False, "StructuredFormatRejected"),
        (False, "StructuredFormatRejected"),
        (True, None),
        (True, None),
    ]


def test_a_busy_server_on_the_probe_is_retried_not_taken_for_a_refusal(fake_openai):
    fake_openai.fail_next(503)
    fake_openai.responder = lambda body: REPLY
    llm = model(fake_openai)
    assert complete_json(llm, MSGS, SCHEMA).text == REPLY
    complete_json(llm, MSGS, SCHEMA)
    assert kinds(fake_openai) == ["json_schema"] * 3


def test_a_prompt_too_long_on_the_probe_is_an_error_not_a_refusal(fake_openai):
    message = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    fake_openai.fail_next(400, message=message)
    fake_openai.responder = lambda body: REPLY
    llm = model(fake_openai)
    with pytest.raises(LLMError) as caught:
        complete_json(llm, MSGS, SCHEMA)
    assert not isinstance(caught.value, StructuredFormatRejected)
    assert "maximum context length is 8192 tokens" in assert_one_line(caught.value, fake_openai)
    complete_json(llm, MSGS, SCHEMA)
    assert kinds(fake_openai) == ["json_schema", "json_schema"]


def test_modes_move_one_step_per_refusal_and_are_thread_safe():
    modes, key = StructuredModes(), ("http://h/v1", "m")
    assert modes.get(key) == ("json_schema", False)
    barrier = threading.Barrier(8)

    def refuse() -> None:
        barrier.wait()
        modes.reject(key, "json_schema")

    threads = [threading.Thread(target=refuse) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert modes.get(key) == ("json_object", False)  # eight threads refused json_schema: one step
    modes.confirm(key, "json_object")
    assert modes.reject(key, "json_object") == "json_object"  # a confirmed form stays
    other = ("http://h/v1", "n")
    assert modes.reject(other, "json_schema") == "json_object" and modes.reject(other, "json_object") == "text"
    assert modes.get(other) == ("text", True) and modes.reject(other, "text") == "text"


# --- the server's reason, sanitised ---------------------------------------------------------------------
def test_the_servers_reason_is_shown_without_key_credentials_or_control_characters(fake_openai):
    key = fake_openai.api_key
    message = (
        f"Bad request\x1b[31m for key {key} (also sk-te\x00st-key) from http://ada:hunter2@proxy:8080/v1"
        f" with Authorization: Bearer {key} and ?api_key=abcd1234&x=1 " + "x" * 400 + "\nTraceback (most recent"
    )
    fake_openai.fail_next(400, message=message)
    url = fake_openai.base_url.replace("http://", "http://user:s3cretpw@")
    with pytest.raises(LLMError) as caught:
        model(fake_openai, base_url=url).complete(MSGS)
    text = assert_one_line(caught.value, fake_openai)
    assert "HTTP 400: Bad request[31m for key [redacted] (also [redacted]) from http://proxy:8080/v1" in text
    for secret in ("hunter2", "ada:", "s3cretpw", "abcd1234", "\x1b", "sk-te", "Traceback"):
        assert secret not in text
    reason = text.split("HTTP 400: ", 1)[1].split(").", 1)[0]
    assert len(reason) <= REASON_CHARS and reason.endswith("\u2026")


def test_the_key_is_redacted_wherever_it_is_echoed(fake_openai):
    """Errors used never to repeat the server's text, so an echoed key could not leak; they now do,
    and the key is taken out explicitly: in a 500, a 4xx, a refusal, a 404 and a 403."""
    key = fake_openai.api_key
    cases = [(500, "boom"), (400, "nope"), (404, "no model"), (403, "forbidden"), (422, "bad")]
    for status, word in cases:
        fake_openai.fail_next(status, message=f"{word}: key={key} Bearer {key}")
        with pytest.raises(LLMError) as caught:
            model(fake_openai, max_retries=0).complete(MSGS)
        text = assert_one_line(caught.value, fake_openai)
        assert f"HTTP {status}: {word}" in text or f"({status}: {word}" in text, text
    fake_openai.fail_next(500, message=f"response_format refused for {key}")
    with pytest.raises(StructuredFormatRejected) as refused:
        model(fake_openai).complete(MSGS, json_schema=SCHEMA)
    assert key not in str(refused.value) and "response_format refused for [redacted]" in str(refused.value)


def test_sanitize_reason_takes_the_first_line_and_the_words_of_an_html_page():
    assert sanitize_reason("first line\nsecond line") == "first line"
    assert sanitize_reason("2 errors:\n  a is wrong\n  b is wrong") == "2 errors: a is wrong"
    assert sanitize_reason("<html><body><h1>Bad Gateway</h1><p>nginx</p></body></html>") == "Bad Gateway"
    assert sanitize_reason("\x00\x07\u200b\n") == ""
    assert sanitize_reason("a" * 500).endswith("\u2026") and len(sanitize_reason("a" * 500)) == REASON_CHARS
    assert sanitize_reason("It failed.") == "It failed"


# --- retries: only what a retry can fix -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Invalid value for 'temperature'"),
        (422, "field required"),
        (500, "1 validation error: response_format.type Input should be 'text' or 'json_object'"),
        (500, "This model's maximum context length is 4096 tokens"),
        (501, "not implemented"),
    ],
)
def test_errors_a_retry_cannot_fix_are_not_retried(fake_openai, status, message):
    fake_openai.fail_next(status, times=4, message=message)
    with pytest.raises(LLMError) as caught:
        model(fake_openai, max_retries=3).complete(MSGS)
    assert len(fake_openai.requests) == 1
    text = assert_one_line(caught.value, fake_openai)
    assert f"HTTP {status}: {message[:30]}" in text and "after retries" not in text


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_errors_a_retry_can_fix_are_retried(fake_openai, status):
    fake_openai.fail_next(status, message="temporarily overloaded")
    assert model(fake_openai, max_retries=2).complete(MSGS).text
    assert len(fake_openai.requests) == 2


def test_a_persistent_503_says_so_with_its_reason_after_retries(fake_openai):
    fake_openai.fail_next(503, times=5, message="Service Unavailable: model loading")
    with pytest.raises(LLMError) as caught:
        model(fake_openai, max_retries=2).complete(MSGS)
    assert len(fake_openai.requests) == 3
    assert "HTTP 503 after retries: Service Unavailable: model loading." in assert_one_line(caught.value, fake_openai)


# --- quizzes and interviews against each kind of server --------------------------------------------------
class AnyForm:
    """The practice model behind any form of structured output: it finds the schema in the response format
    or the prompt (and takes it out of the prompt) so :class:`PracticeModel` reads the request as usual; in
    text mode it wraps the JSON in a code fence, as chat models do."""

    def __init__(self) -> None:
        self.inner = PracticeModel()

    def __call__(self, body: dict[str, Any]) -> str:
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return self.inner(body)
        messages = [dict(m) for m in body["messages"]]
        last = messages[-1]["content"]
        cut = last.find(SCHEMA_INSTRUCTION)
        if cut == -1:
            return self.inner(body)
        schema = json.loads(last[cut + len(SCHEMA_INSTRUCTION) :])
        messages[-1]["content"] = last[:cut].rstrip("\n")
        spec = {"type": "json_schema", "json_schema": {"name": schema["title"], "schema": schema}}
        text = self.inner({**body, "messages": messages, "response_format": spec})
        return text if fmt else f"```json\n{text}\n```"


@pytest.fixture
def server(request: pytest.FixtureRequest, fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.formats = request.param
    fake_openai.responder = AnyForm()
    return fake_openai


@pytest.fixture
def tutor(server, make_settings, embedder):
    settings = make_settings(
        PROVIDER="openai",
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY=server.api_key,
        CHAT_MODEL="gpt-4o-mini",
        LLM_MAX_RETRIES=2,  # refusals must not be retried all the same
        LLM_TIMEOUT_S=10,
        KNOWLEDGE_DIR=CORPUS,
    )
    return practice_tutor(settings, embedder)


def refused(fake: FakeOpenAI) -> int:
    return len(FORMS[fake.formats]) - 1


@pytest.mark.parametrize("server", sorted(FORMS), indirect=True)
def test_quiz_succeeds_against_each_server(tutor, server):
    quiz = tutor.quizzes.make(QuizRequest(topic="bias-variance trade-off", n=3))
    assert len(quiz.questions) == 3 and quiz.dropped == 0
    sent = kinds(server)
    assert sent[: refused(server)] == FORMS[server.formats][:-1]  # refused once each, by the first call
    assert set(sent[refused(server) :]) == {FORMS[server.formats][-1]}  # every later call: the form that works
    assert quiz.usage.calls == len(server.requests)
    rows = Ledger(tutor.settings.ledger_path).rows(kind="chat")
    assert len(rows) == len(server.requests) and sum(not r.ok for r in rows) == refused(server)


@pytest.mark.parametrize("server", sorted(FORMS), indirect=True)
def test_interview_and_feedback_succeed_against_each_server(tutor, server):
    made = tutor.interviews.generate("junior", topic="ML system design round", n=2)
    assert len(made.questions) == 2 and all(2 <= len(q.rubric) <= 5 for q in made.questions)
    q = made.questions[0]
    feedback = tutor.interviews.feedback(q, f"I would use this: {q.rubric[0]}. That is all.")
    assert feedback.graded_by == "model" and q.rubric[0] in feedback.covered
    sent = kinds(server)
    assert sent[: refused(server)] == FORMS[server.formats][:-1]
    assert set(sent[refused(server) :]) == {FORMS[server.formats][-1]}
