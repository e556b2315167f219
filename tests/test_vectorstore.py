import pytest

from assistant.errors import IndexError_
from assistant.vectorstore.chroma import open_client, open_collection
from tests.conftest import ingest_folder


def test_missing_index_says_to_ingest(make_settings):
    settings = make_settings()
    with pytest.raises(IndexError_, match="tutor ingest"):
        open_collection(open_client(settings), settings)


def test_other_embedding_model_says_to_reingest(make_settings, mini_corpus, embedder):
    settings = make_settings()
    ingest_folder(settings, mini_corpus, embedder)
    col = open_client(settings).get_collection(settings.collection)
    col.modify(metadata={"embedding_model": "text-embedding-3-small", "embedding_dim": 1536})
    with pytest.raises(IndexError_, match="--rebuild"):
        open_collection(open_client(settings), settings)


def test_index_survives_reopen(make_settings, mini_corpus, embedder):
    settings = make_settings()
    report = ingest_folder(settings, mini_corpus, embedder)
    col = open_collection(open_client(settings, fresh=True), settings)
    assert col.count() == report.chunks_total
