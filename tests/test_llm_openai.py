"""The OpenAI-compatible provider against a fake server on 127.0.0.1 (real HTTP, real client)."""

import pytest

from assistant.errors import LLMError
from assistant.llm.base import Message
from assistant.llm.openai_compat import OpenAIChatModel

MSGS = [Message(role="system", content="be brief"), Message(role="user", content="what is a tensor")]


def model(fake, **kw):
    args = {
        "model": "gpt-4o-mini",
        "base_url": fake.base_url,
        "api_key": fake.api_key,
        "max_retries": 0,
        "timeout_s": 5,
    }
    args.update(kw)
    return OpenAIChatModel(**args)


def test_complete_returns_provider_usage(fake_openai):
    fake_openai.responder = lambda body: "A tensor is an n-dimensional array [1]."
    out = model(fake_openai).complete(MSGS)
    assert out.text == "A tensor is an n-dimensional array [1]."
    assert out.usage.source == "provider"
    assert out.usage.prompt_tokens == 6 and out.usage.completion_tokens == 7
    assert fake_openai.headers[-1]["Authorization"] == f"Bearer {fake_openai.api_key}"


def test_stream_asks_for_usage_and_reports_it(fake_openai):
    fake_openai.responder = lambda body: "one two three four"
    handle = model(fake_openai).stream(MSGS)
    pieces = list(handle)
    assert "".join(pieces) == "one two three four" and len(pieces) == 4
    assert fake_openai.requests[-1]["stream_options"] == {"include_usage": True}
    assert handle.completion is not None
    assert handle.completion.usage.completion_tokens == 4
    assert handle.completion.usage.source == "provider"


def test_structured_output_sends_schema(fake_openai):
    fake_openai.responder = lambda body: '{"answer": "x"}'
    schema = {"title": "Out", "type": "object", "properties": {"answer": {"type": "string"}}}
    model(fake_openai).complete(MSGS, json_schema=schema)
    sent = fake_openai.requests[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema


def test_bad_key_is_a_clear_error(fake_openai):
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        model(fake_openai, api_key="wrong").complete(MSGS)


def test_unknown_model_is_a_clear_error(fake_openai):
    with pytest.raises(LLMError, match="CHAT_MODEL"):
        model(fake_openai, model="no-such-model").complete(MSGS)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(fake_openai, status):
    fake_openai.fail_next(status, times=2)
    out = model(fake_openai, max_retries=2).complete(MSGS)
    assert out.text
    assert len(fake_openai.requests) == 3


def test_persistent_server_error_gives_up_cleanly(fake_openai):
    fake_openai.fail_next(500, times=5)
    with pytest.raises(LLMError, match="HTTP 500"):
        model(fake_openai, max_retries=1).complete(MSGS)
    assert len(fake_openai.requests) == 2


def test_timeout_is_a_clear_error(fake_openai):
    fake_openai.fail_next(0, delay_s=2.0)
    with pytest.raises(LLMError, match="LLM_TIMEOUT_S"):
        model(fake_openai, timeout_s=0.5).complete(MSGS)


def test_unreachable_server(fake_openai):
    url = fake_openai.base_url
    fake_openai.stop()
    with pytest.raises(LLMError, match="OPENAI_BASE_URL"):
        OpenAIChatModel(model="gpt-4o-mini", base_url=url, api_key="k", max_retries=0, timeout_s=2).complete(MSGS)


def test_token_count_uses_tiktoken_offline():
    m = OpenAIChatModel(model="gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="k")
    assert m.count_tokens("hello world") == 2
