"""How an answer ends, as a real OpenAI-compatible server (llama.cpp) ends it: cut at the token limit
(``finish_reason: length``), with no usage reported (``stream_options.include_usage`` ignored), or broken off
mid-stream. Each is said where the learner sees the answer (terminal, chat page, ``--json``), a cut answer keeps
its finished sentences and ``more`` continues it, and a broken stream keeps what it showed, marked.

The fake server (tests/fakes/openai_server.py) is made to end its replies that way per test (``ending``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import LLMError
from assistant.llm.base import ChatModel, Completion, Message, Stream, Usage
from assistant.rag.answer import CONTINUE_REQUEST, NOTHING_MORE_TEXT, AnswerService, without_unfinished
from assistant.rag.key_points import HEADER
from assistant.services import Tutor
from tests.conftest import REPO, ingest_folder, tutor_runner, use_fake_server
from tests.fakes.openai_server import FakeOpenAI
from ui.render import format_answer_footer, format_cut_notice

QUESTION = "What maths do I need before deep learning?"
FINISHED = "Linear algebra is the language of neural networks [1]. Calculus tells a model how to improve [1]."
# Cut mid-sentence, mid-figure: checked as it stands, "12" would be an invented figure and sink the answer.
CUT = FINISHED + " Probability turns 12"
MORE = "Backpropagation is the chain rule applied layer by layer [1]."


def is_continuation(body: dict[str, Any]) -> bool:
    return any(m["role"] == "assistant" for m in body.get("messages", []))


def ending(
    fake: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    *,
    finish: Callable[[dict[str, Any]], str] = lambda body: "stop",
    usage: str = "reported",
) -> None:
    """Make the fake end its replies (streamed and plain) with ``finish(body)`` as the finish reason, and
    usage "reported" (word counts), "limit" (a reply cut at the limit reports ``max_tokens`` completion
    tokens, as real servers do) or "none" (no usage at all, as llama.cpp sends in a stream)."""
    handler = fake._server.RequestHandlerClass  # type: ignore[union-attr]
    chunks, completion = handler._chunks, handler._completion

    def usage_of(body: dict[str, Any], reported: dict[str, Any]) -> dict[str, Any] | None:
        if usage == "none":
            return None
        if usage == "limit" and finish(body) == "length":
            return {**reported, "completion_tokens": body["max_tokens"]}
        return reported

    def new_chunks(self: Any, body: dict[str, Any], text: str) -> tuple[list[str], list[str]]:
        content, tail = chunks(self, body, text)
        out = []
        for event in tail:
            data = json.loads(event)
            if "usage" in data:
                data["usage"] = usage_of(body, data["usage"])
                if data["usage"] is None:
                    continue
            for choice in data.get("choices", []):
                if choice.get("finish_reason"):
                    choice["finish_reason"] = finish(body)
            out.append(json.dumps(data))
        return content, out

    def new_completion(self: Any, body: dict[str, Any], text: str) -> dict[str, Any]:
        data = completion(self, body, text)
        data["choices"][0]["finish_reason"] = finish(body)
        data["usage"] = usage_of(body, data["usage"])
        if data["usage"] is None:
            del data["usage"]
        return data

    monkeypatch.setattr(handler, "_chunks", new_chunks)
    monkeypatch.setattr(handler, "_completion", new_completion)


def cut_first(body: dict[str, Any]) -> str:
    """The answer is cut; its continuation finishes."""
    return "stop" if is_continuation(body) else "length"


@pytest.fixture
def tutor(openai_settings, mini_corpus, embedder):
    ingest_folder(openai_settings, mini_corpus, embedder)
    return Tutor(openai_settings, embedder=embedder)


def body_of(answer: Any) -> str:
    """The answer without the key points quoted under it."""
    return str(answer.text).partition(f"\n\n{HEADER}\n")[0]


def answer_with(tutor: Tutor, streaming: bool, question: str = QUESTION) -> Any:
    if not streaming:
        return tutor.answers.ask(question)
    handle = tutor.answers.ask_stream(question)
    "".join(handle)
    return handle.answer


# --- cut at the token limit ------------------------------------------------------------------------------
@pytest.mark.parametrize("streaming", [False, True])
def test_a_cut_answer_is_flagged_and_keeps_its_finished_sentences(tutor, fake_openai, monkeypatch, streaming):
    fake_openai.responder = lambda body: CUT
    ending(fake_openai, monkeypatch, finish=cut_first, usage="limit")
    answer = answer_with(tutor, streaming)
    assert answer.cut and answer.can_continue and answer.max_tokens == tutor.settings.max_answer_tokens
    assert body_of(answer) == FINISHED and not answer.declined  # only the dangling sentence went
    assert answer.unfinished == "Probability turns 12" and answer.calls == 1  # no figure retry over "12"
    assert answer.left_out == 0 and not answer.unsupported_figures
    limit = f"MAX_ANSWER_TOKENS={tutor.settings.max_answer_tokens}"
    assert f"cut at {limit}" in format_answer_footer(answer)
    notice = format_cut_notice(answer, can_continue=True)
    assert notice.startswith(f"… (cut at {limit}: ask a narrower question or raise MAX_ANSWER_TOKENS")
    assert "unfinished last sentence is left out" in notice and "`more`" in notice
    data = answer.model_dump(mode="json")
    assert data["cut"] is True and data["unfinished"] == "Probability turns 12"


def test_a_complete_answer_is_not_flagged(tutor, fake_openai):
    fake_openai.responder = lambda body: FINISHED
    answer = answer_with(tutor, True)
    assert not answer.cut and answer.unfinished == "" and format_cut_notice(answer) == ""
    assert "cut at" not in format_answer_footer(answer)


def test_a_finished_last_sentence_of_a_cut_answer_is_kept():
    assert without_unfinished(FINISHED) == (FINISHED, "")
    assert without_unfinished(FINISHED + "\n") == (FINISHED + "\n", "")
    assert without_unfinished(CUT) == (FINISHED, "Probability turns 12")
    assert without_unfinished("Use this:\n```python\nx = 1") == ("Use this:\n```python\nx = 1", "")
    assert without_unfinished("Probability turns") == ("", "Probability turns")


def test_a_cut_answer_with_no_usage_is_flagged_from_its_finish_reason(tutor, fake_openai, monkeypatch):
    """llama.cpp: finish_reason "length" and no usage, so the finish reason is all there is to go on."""
    fake_openai.responder = lambda body: CUT
    ending(fake_openai, monkeypatch, finish=cut_first, usage="none")
    stream = tutor.answers.llm.stream([Message(role="user", content="hi")])
    "".join(stream)
    assert stream.completion is not None and stream.completion.extra["finish_reason"] == "length"
    for streaming in (True, False):
        answer = answer_with(tutor, streaming)
        assert answer.cut and body_of(answer) == FINISHED and answer.usage_estimated
        footer = format_answer_footer(answer)
        assert "(estimated" in footer and "cut at MAX_ANSWER_TOKENS=320" in footer


class Scripted(ChatModel):
    """A model that reports its finish reason the way the embedded model does (``extra["finish_reason"]``)."""

    provider, model = "local", "scripted"

    def __init__(self, texts: list[str], finishes: list[str]) -> None:
        self.texts, self.finishes = iter(texts), iter(finishes)
        self.seen: list[list[Message]] = []

    def _completion(self, messages: list[Message]) -> Completion:
        self.seen.append(messages)
        text = next(self.texts)
        usage = Usage(prompt_tokens=100, completion_tokens=len(text.split()), source="counted")
        extra = {"finish_reason": next(self.finishes)}
        return Completion(text=text, usage=usage, provider="local", model="scripted", latency_s=0.1, extra=extra)

    def complete(self, messages: list[Message], **kw: Any) -> Completion:
        return self._completion(messages)

    def stream(self, messages: list[Message], **kw: Any) -> Stream:
        completion = self._completion(messages)

        def pieces() -> Iterator[str]:
            yield completion.text
            handle.completion = completion

        handle = Stream(pieces())
        return handle

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_the_embedded_models_finish_reason_is_read_and_more_continues(tutor):
    model = Scripted([CUT, MORE + " " + FINISHED], ["length", "stop"])
    service = AnswerService(tutor.retriever, model, min_score=tutor.settings.min_relevance, max_tokens=64)
    handle = service.ask_stream(QUESTION)
    assert "".join(handle) == CUT
    first = handle.answer
    assert first is not None and first.cut and body_of(first) == FINISHED and first.key_points
    assert not first.usage_estimated  # the embedded model counts with its own tokenizer
    assert "estimated" not in format_answer_footer(first)

    handle = service.continue_stream(first)
    "".join(handle)
    more = handle.answer
    assert more is not None and not more.cut and not more.declined
    assert more.text == MORE  # what the answer already said is not repeated
    assert more.continued_from == FINISHED and more.question == QUESTION  # the quoted points are not in it
    assert not more.key_points  # a continuation adds to the answer; the points were given
    asked = model.seen[-1]
    assert [m.role for m in asked] == ["system", "user", "assistant", "user"]
    assert asked[1].content == model.seen[0][1].content  # the same sources, numbered the same way
    assert asked[2].content == FINISHED and asked[3].content == CONTINUE_REQUEST


def test_a_continuation_that_only_repeats_says_there_is_nothing_more(tutor):
    model = Scripted([CUT, FINISHED], ["length", "stop"])
    service = AnswerService(tutor.retriever, model, min_score=tutor.settings.min_relevance, max_tokens=64)
    first = service.ask(QUESTION)
    assert first.cut and first.can_continue
    more = service.continue_answer(first)
    assert more.text == NOTHING_MORE_TEXT and more.declined and not more.can_continue and more.calls == 1


# --- usage: the server's or ours ------------------------------------------------------------------------
@pytest.mark.parametrize("streaming", [False, True])
def test_usage_is_estimated_only_when_the_server_reports_none(tutor, fake_openai, monkeypatch, streaming):
    fake_openai.responder = lambda body: FINISHED
    reported = answer_with(tutor, streaming)
    assert reported.usage.source == "provider" and not reported.usage_estimated
    footer = format_answer_footer(reported)
    assert "estimated" not in footer and "~" not in footer

    ending(fake_openai, monkeypatch, usage="none")
    counted = answer_with(tutor, streaming)
    assert counted.usage.source == "counted" and counted.usage_estimated
    assert counted.usage.prompt_tokens > 0 and counted.usage.completion_tokens > 0
    footer = format_answer_footer(counted)
    assert f"tokens: ~{counted.usage.prompt_tokens} prompt + ~{counted.usage.completion_tokens} completion" in footer
    assert "(estimated" in footer
    assert counted.model_dump(mode="json")["usage_estimated"] is True
    rows = tutor.answers.llm.ledger.rows(kind="chat")  # type: ignore[attr-defined]
    assert [r.usage_source for r in rows] == ["provider", "counted"]


# --- broken off mid-stream -------------------------------------------------------------------------------
def test_a_broken_stream_is_recorded_failed_with_its_tokens(tutor, fake_openai):
    fake_openai.responder = lambda body: FINISHED
    fake_openai.fault = "cut"
    handle = tutor.answers.ask_stream(QUESTION)
    shown: list[str] = []
    with pytest.raises(LLMError, match="broke off"):
        for piece in handle:
            shown.append(piece)
    assert "".join(shown).startswith("Linear algebra") and handle.answer is None
    (row,) = tutor.answers.llm.ledger.rows(kind="chat")  # type: ignore[attr-defined]
    assert not row.ok and row.error == "LLMError" and row.usage_source == "counted"
    assert row.prompt_tokens > 0 and row.completion_tokens > 0


# --- the command line ------------------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path, make_settings, fake_openai, mini_corpus, embedder):
    """Run `tutor ...` in a subprocess against the fake server, with the mini corpus ingested."""
    settings = make_settings()
    ingest_folder(settings, mini_corpus, embedder)
    return tutor_runner(
        tmp_path,
        settings,
        fake_openai,
        LLM_TIMEOUT_S="5",
        MAX_ANSWER_TOKENS="64",
        KNOWLEDGE_DIR=str(REPO / "knowledge"),
    )


def test_cli_ask_marks_a_cut_answer(cli, fake_openai, monkeypatch):
    fake_openai.responder = lambda body: CUT
    ending(fake_openai, monkeypatch, finish=cut_first, usage="limit")
    proc, _ = cli("ask", QUESTION)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "-- checked against the sources; the answer is --\n" + FINISHED in out
    notice = "… (cut at MAX_ANSWER_TOKENS=64: ask a narrower question or raise MAX_ANSWER_TOKENS"
    assert notice in out and "unfinished last sentence is left out" in out
    assert out.index(notice) > out.index("the answer is --") and out.index(notice) < out.index("Sources:")
    footer = out.strip().splitlines()[-1]
    assert "+ 64 completion" in footer and "cut at MAX_ANSWER_TOKENS=64" in footer and "estimated" not in footer

    proc, _ = cli("ask", QUESTION, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["cut"] is True and data["max_tokens"] == 64 and data["text"] == FINISHED
    assert data["unfinished"] == "Probability turns 12" and data["usage_estimated"] is False


def test_cli_ask_says_estimated_when_the_server_reports_no_usage(cli, fake_openai, monkeypatch):
    fake_openai.responder = lambda body: FINISHED
    ending(fake_openai, monkeypatch, usage="none")
    proc, ledger = cli("ask", QUESTION)
    assert proc.returncode == 0, proc.stderr
    footer = proc.stdout.strip().splitlines()[-1]
    assert footer.startswith("tokens: ~") and "(estimated" in footer and "cut at" not in footer
    proc, _ = cli("ask", QUESTION, "--json")
    data = json.loads(proc.stdout)
    assert data["usage_estimated"] is True and data["usage"]["source"] == "counted" and data["cut"] is False
    assert [r.usage_source for r in ledger.rows(kind="chat")] == ["counted", "counted"]


@pytest.mark.parametrize(
    ("fault", "payload", "word"),
    [("cut", None, "broke off"), ("payload", '{"error": {"message": "slot unavailable"}}', "reported an error")],
)
def test_cli_ask_keeps_and_marks_an_interrupted_answer(cli, fake_openai, fault, payload, word):
    fake_openai.responder = lambda body: FINISHED
    fake_openai.fault = fault
    if payload:
        fake_openai.payload = payload
    proc, ledger = cli("ask", QUESTION)
    assert proc.returncode != 0
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Linear ")  # the partial text stays where it was shown
    assert lines[1].startswith("[answer interrupted: ") and word in lines[1]
    assert lines[1].endswith("the text above is incomplete and unchecked]") and len(lines) == 2
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error:") and word in errors[0] and "Fix:" in errors[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    (row,) = ledger.rows(kind="chat")
    assert not row.ok and row.error == "LLMError" and row.usage_source == "counted"
    assert row.prompt_tokens > 0 and row.completion_tokens > 0


def test_cli_chat_more_continues_a_cut_answer(cli, fake_openai, monkeypatch):
    fake_openai.responder = lambda body: MORE if is_continuation(body) else CUT
    ending(fake_openai, monkeypatch, finish=cut_first, usage="limit")
    proc, ledger = cli("chat", stdin=f"{QUESTION}\nmore\n/more\n/quit\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Type `more` to continue it." in out
    assert out.count("Type `more` to continue it.") == 1  # the continuation finished
    after = out[out.index("Type `more` to continue it.") :]
    assert MORE in after and "Nothing to continue: the last answer was not cut off." in after
    first, second = fake_openai.requests
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][1] == first["messages"][1]  # the same sources; no rewrite call for `more`
    assert second["messages"][2]["content"] == FINISHED and second["messages"][3]["content"] == CONTINUE_REQUEST
    assert [r.ok for r in ledger.rows(kind="chat")] == [True, True]
    assert proc.stderr == ""


# --- the chat page ---------------------------------------------------------------------------------------
@pytest.fixture
def app(monkeypatch, openai_settings, fake_openai, mini_corpus, embedder):
    from streamlit.testing.v1 import AppTest

    use_fake_server(monkeypatch, openai_settings, fake_openai, LLM_MAX_RETRIES="0", LLM_TIMEOUT_S="5")
    ingest_folder(openai_settings, mini_corpus, embedder)
    return AppTest.from_file(str(Path(REPO / "ui" / "app.py")), default_timeout=60).run()


def test_chat_page_marks_cut_estimated_and_interrupted_answers(app, fake_openai, monkeypatch):
    fake_openai.responder = lambda body: MORE if is_continuation(body) else CUT
    ending(fake_openai, monkeypatch, finish=cut_first, usage="limit")
    app.chat_input[0].set_value(QUESTION).run()
    assert not app.exception
    (warning,) = app.warning
    assert "cut at MAX_ANSWER_TOKENS=320" in warning.value and "`more`" in warning.value
    assert any(m.value.startswith("Linear algebra is the language") for m in app.markdown)

    app.chat_input[0].set_value("more").run()  # continues the cut answer
    assert not app.exception
    assert any("Backpropagation is the chain rule" in m.value for m in app.markdown)
    assert fake_openai.requests[-1]["messages"][-1]["content"] == CONTINUE_REQUEST

    fake_openai.responder = lambda body: FINISHED
    ending(fake_openai, monkeypatch, usage="none")  # finished, and no usage reported
    app.chat_input[0].set_value("Why is linear algebra the language of neural networks?").run()
    assert not app.exception
    assert "(estimated" in app.caption[-1].value and "cut at" not in app.caption[-1].value

    fake_openai.fault = "cut"
    app.chat_input[0].set_value("How does a model improve?").run()
    assert not app.exception and not app.error
    assert app.markdown[-1].value.startswith("Linear algebra")  # the partial text is kept
    assert "answer interrupted" in app.warning[-1].value and "broke off" in app.warning[-1].value
    app.run()  # on the next run the interrupted turn is still there, with its warning
    assert not app.exception
    assert app.markdown[-1].value.startswith("Linear algebra") and "answer interrupted" in app.warning[-1].value
