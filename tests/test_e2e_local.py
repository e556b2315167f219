"""End to end on the real embedded model, with every network socket blocked."""

import pytest
from pytest_socket import disable_socket, enable_socket

from assistant.llm.local import LocalChatModel
from assistant.services import Tutor
from tests.conftest import ingest_folder


@pytest.fixture
def no_network():
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


def test_ingest_and_ask_offline_on_the_embedded_model(make_settings, mini_corpus, local_model_path, no_network):
    from assistant.embedding.minilm import load_embedder

    settings = make_settings(MAX_ANSWER_TOKENS=120, KEY_POINTS=3)
    ingest_folder(settings, mini_corpus, load_embedder())
    tutor = Tutor(settings)
    answer = tutor.answers.ask("What maths do I need before deep learning?")
    assert answer.provider == "local" and answer.model == "qwen2.5-coder-1.5b"
    assert answer.text and not answer.declined
    assert answer.citations, answer.text
    assert {c.doc_id for c in answer.citations} == {"maths-basics"}
    passages = " ".join(c.passage for c in answer.retrieved)
    assert all(p.rsplit(" [", 1)[0] in passages and p in answer.text for p in answer.key_points)  # quoted as is
    assert answer.usage.prompt_tokens > 100 and answer.usage.completion_tokens > 0
    (row,) = tutor.ledger.rows(kind="chat")  # embedding calls (ingest, the query) have rows too
    assert row.provider == "local" and row.cost_usd == 0 and row.prompt_tokens == answer.usage.prompt_tokens


def test_schema_constrained_output_is_valid_json(local_model_path):
    import json

    from assistant.llm.base import Message

    llm = LocalChatModel(local_model_path, "qwen2.5-coder-1.5b", n_ctx=1024, default_max_tokens=60)
    schema = {
        "type": "object",
        "properties": {"term": {"type": "string"}, "is_supervised": {"type": "boolean"}},
        "required": ["term", "is_supervised"],
    }
    out = llm.complete([Message(role="user", content="Is k-means supervised? Reply in JSON.")], json_schema=schema)
    data = json.loads(out.text)
    assert set(data) == {"term", "is_supervised"} and isinstance(data["is_supervised"], bool)


def test_the_kept_system_turn_changes_no_reply_and_is_reused(local_model_path):
    """The system turn stays in the llama.cpp context between calls (prefix.py); a reply must depend only on its
    own messages: the same after a cold start, after another question with the same system turn (reused), and
    after a different system turn (evaluated afresh), streamed or not."""
    from assistant.llm.base import Message
    from assistant.llm.prefix import prepare_context

    llm = LocalChatModel(local_model_path, "qwen2.5-coder-1.5b", n_ctx=1024, default_max_tokens=32)
    tutor_rules = "You are a study assistant. Answer in one short sentence."
    other_rules = "You write quiz questions about machine learning."

    def ask(system: str, question: str) -> list[Message]:
        return [Message(role="system", content=system), Message(role="user", content=question)]

    first, second = ask(tutor_rules, "What is overfitting?"), ask(tutor_rules, "What does a GPU speed up?")
    cold = llm.complete(first).text
    after_same = llm.complete(second).text
    llm.complete(ask(other_rules, "Write a question about recall."))
    assert llm.complete(first).text == cold  # after a different system turn
    assert "".join(llm.stream(second)) == after_same  # after the same one (kept), streamed
    assert llm._worker.call(lambda m: prepare_context(m, first))  # the context held the tutor's system turn
    assert not llm._worker.call(lambda m: prepare_context(m, ask(other_rules, "Another question?")))
    assert not llm._worker.call(lambda m: prepare_context(m, [Message(role="user", content="No system turn.")]))
