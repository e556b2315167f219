"""Embedding calls go through the accounting layer: counted with the model's tokenizer, priced, budgeted."""

import math

import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding

from assistant.accounting.budget import Budget
from assistant.accounting.embedding import AccountedEmbedding, account_embedder, account_embedder_from_settings
from assistant.accounting.ledger import Ledger
from assistant.accounting.prices import PriceTable
from assistant.errors import BudgetExceededError
from assistant.services import Tutor
from tests.conftest import ingest_folder

TEXTS = ["Gradient descent follows the negative gradient.", "A tensor is an n-dimensional array.", "Docker"]


def wrap(embedder, tmp_path, *, feature="chat", session_cap=None, provider=None, model="all-MiniLM-L6-v2"):
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    budget = Budget(ledger, session_id="s1", session_cap=session_cap, daily_cap=None)
    return account_embedder(
        embedder,
        ledger=ledger,
        prices=PriceTable(),
        budget=budget,
        learner_id="ada",
        session_id="s1",
        feature=feature,
        model=model,
        provider=provider,
    )


def minilm_tokens(embedder, texts):
    st = embedder._model
    return sum(len(st.tokenizer(t, truncation=True, max_length=st.max_seq_length)["input_ids"]) for t in texts)


def test_local_embeddings_are_counted_with_their_tokenizer_and_free(embedder, tmp_path):
    accounted = wrap(embedder, tmp_path, feature="ingest")
    vectors = accounted.get_text_embedding_batch(TEXTS)
    assert vectors == embedder.get_text_embedding_batch(TEXTS)  # same vectors as the bare model
    query = accounted.get_query_embedding("what is a tensor")
    assert len(query) == 384
    batch, single = accounted.recorder.ledger.rows()
    assert (batch.kind, batch.feature, batch.provider, batch.model) == (
        "embedding",
        "ingest",
        "local",
        "all-MiniLM-L6-v2",
    )
    assert batch.prompt_tokens == minilm_tokens(embedder, TEXTS) and batch.completion_tokens == 0
    assert single.prompt_tokens == minilm_tokens(embedder, ["what is a tensor"])
    assert batch.cost_usd == 0 and batch.ok and batch.latency_s > 0 and batch.usage_source == "counted"


def test_long_texts_count_what_the_model_reads(embedder, tmp_path):
    accounted = wrap(embedder, tmp_path)
    accounted.get_text_embedding("word " * 2000)
    (row,) = accounted.recorder.ledger.rows()
    assert row.prompt_tokens == embedder._model.max_seq_length  # truncated as the model truncates


def test_ingest_and_questions_record_embedding_rows(make_settings, mini_corpus, embedder, fake_openai):
    settings = make_settings(
        PROVIDER="openai", OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY=fake_openai.api_key
    )
    report = ingest_folder(settings, mini_corpus, embedder)
    ledger = Ledger(settings.ledger_path)
    ingest_rows = [r for r in ledger.rows() if r.feature == "ingest"]
    assert len(ingest_rows) == math.ceil(report.chunks_added / 32) >= 1
    assert all(r.kind == "embedding" and r.cost_usd == 0 and r.prompt_tokens > 0 for r in ingest_rows)

    tutor = Tutor(settings, embedder=embedder)
    answer = tutor.answers.ask("What maths do I need before deep learning?")
    chat_rows = [r for r in ledger.rows() if r.feature == "chat"]
    # the query first; then the evidence and support checks embed sentences; one chat row per model call
    query_row = chat_rows[0]
    answer_rows = [r for r in chat_rows if r.kind == "chat"]
    assert query_row.kind == "embedding" and len(answer_rows) == answer.calls >= 1
    assert sum(r.kind == "embedding" for r in chat_rows) >= 3
    assert {r.session_id for r in chat_rows} == {tutor.session_id}
    assert query_row.prompt_tokens == minilm_tokens(embedder, ["What maths do I need before deep learning?"])
    assert sum(r.prompt_tokens for r in answer_rows) == answer.usage.prompt_tokens
    assert sum(r.cost_usd for r in answer_rows) == pytest.approx(answer.cost_usd)


class FakePaidEmbedding(BaseEmbedding):
    """Stands in for a paid provider's embedding API (OpenAI's text-embedding-3-small)."""

    calls: int = 0
    fail: bool = False

    def _vectors(self, n: int) -> list[list[float]]:
        self.calls += 1
        if self.fail:
            raise ConnectionError("provider down")
        return [[0.0, 1.0]] * n

    def _get_query_embedding(self, query):
        return self._vectors(1)[0]

    def _get_text_embedding(self, text):
        return self._vectors(1)[0]

    def _get_text_embeddings(self, texts):
        return self._vectors(len(texts))

    async def _aget_query_embedding(self, query):
        return self._vectors(1)[0]


def test_paid_embeddings_are_priced_with_tiktoken_counts(tmp_path):
    import tiktoken

    inner = FakePaidEmbedding()
    accounted = wrap(inner, tmp_path, provider="openai", model="text-embedding-3-small")
    accounted.get_text_embedding_batch(TEXTS)
    (row,) = accounted.recorder.ledger.rows()
    tokens = sum(len(tiktoken.get_encoding("cl100k_base").encode(t)) for t in TEXTS)
    assert row.prompt_tokens == tokens and row.provider == "openai"
    assert row.cost_usd == pytest.approx(tokens * 0.02 / 1e6)


def test_paid_embedding_over_budget_is_refused_before_the_call(tmp_path):
    inner = FakePaidEmbedding()
    accounted = wrap(inner, tmp_path, provider="openai", model="text-embedding-3-small", session_cap=0.0)
    with pytest.raises(BudgetExceededError, match="SESSION_BUDGET_USD"):
        accounted.get_text_embedding_batch(TEXTS)
    assert inner.calls == 0 and accounted.recorder.ledger.rows() == []


def test_failed_embedding_calls_are_recorded(tmp_path):
    inner = FakePaidEmbedding(fail=True)
    accounted = wrap(inner, tmp_path, provider="openai", model="text-embedding-3-small")
    with pytest.raises(ConnectionError):
        accounted.get_query_embedding("hello")
    (row,) = accounted.recorder.ledger.rows()
    assert not row.ok and row.error == "ConnectionError" and row.cost_usd == 0


def test_wrapping_twice_changes_the_feature_only(embedder, make_settings):
    settings = make_settings()
    once = account_embedder_from_settings(embedder, settings, feature="chat")
    twice = account_embedder_from_settings(once, settings, feature="ingest")
    assert isinstance(twice, AccountedEmbedding) and twice.inner is embedder and twice.feature == "ingest"
    twice.get_query_embedding("hi")
    (row,) = Ledger(settings.ledger_path).rows()
    assert row.feature == "ingest" and row.learner_id == settings.learner_id
