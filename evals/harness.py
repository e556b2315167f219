"""The pipeline under test: the real ``Tutor`` over a dedicated eval index built from the suite's corpus.

The eval index lives in ``DATA_DIR/evals/<suite>/`` (its own Chroma folder, ledger and collection), so
a learner's own ingested notes never leak into the scores. Ingest runs with the repository root as the
working directory: chunk sources (shown to the model in every source label) are then the same paths on
every machine, which keeps the message fingerprints stable.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from assistant.callbacks import Progress, no_progress
from assistant.errors import TutorError
from assistant.llm.base import ChatModel, Completion, Message, Stream
from assistant.rag.retrieval import RetrievedChunk
from assistant.services import Tutor
from assistant.settings import Settings
from assistant.vectorstore.chroma import open_client
from evals.golden import GoldenItem
from evals.retrieval_metrics import RetrievalReport, score_item
from evals.suite import REPO_ROOT, Suite

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding


class NoCallModel(ChatModel):
    """Stands in for the chat model where none may be called (replay in CI)."""

    provider = "none"
    model = "replay"

    def complete(self, messages: list[Message], **kwargs: Any) -> Completion:
        raise TutorError("Replay must not call a chat model.", "this is a bug in evals; report it.")

    def stream(self, messages: list[Message], **kwargs: Any) -> Stream:
        raise TutorError("Replay must not call a chat model.", "this is a bug in evals; report it.")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def eval_settings(settings: Settings, suite: Suite) -> Settings:
    root = settings.data_dir / "evals" / suite.name
    return settings.model_copy(
        update={
            "data_dir": root,
            "model_cache_dir": settings.models_dir,
            "chroma_path": None,
            "chroma_host": None,
            "collection": f"evals-{suite.name}",
            "learner_id": "evals",
        }
    )


def build_index(settings: Settings, suite: Suite, embedder: BaseEmbedding, progress: Progress = no_progress) -> int:
    """Ingest the suite's corpus into the eval index (incremental); returns the number of chunks.

    Links in the corpus are never followed (``links=None``): the eval index is the committed text only,
    so recording and replay are offline and deterministic.
    """
    from ingest.pipeline import Ingestor

    with contextlib.chdir(REPO_ROOT):
        ingestor = Ingestor(settings, open_client(settings), lambda: embedder)
        report = ingestor.run(list(suite.corpus), links=None, progress=progress)
    if report.chunks_total == 0:
        raise TutorError(f"The eval corpus {suite.corpus} produced no chunks.", "check 'corpus' in suite.yaml.")
    return report.chunks_total


def pipeline(
    settings: Settings,
    suite: Suite,
    embedder: BaseEmbedding,
    *,
    chat_model: ChatModel | None = None,
    progress: Progress = no_progress,
) -> Tutor:
    """A Tutor on the (freshly updated) eval index; ``chat_model`` None builds the configured one."""
    evs = eval_settings(settings, suite)
    build_index(evs, suite, embedder, progress)
    return Tutor(evs, chat_model=chat_model, embedder=embedder)


def prepare(
    tutor: Tutor, item: GoldenItem, search_query: str | None = None
) -> tuple[list[RetrievedChunk], list[Message]]:
    """The evidence and messages the pipeline builds for an item. A follow-up's standalone rewrite is a model
    call, so replay passes the one the recording kept (``search_query``) instead of calling a model."""
    return tutor.answers.prepare(item.question, item.history_messages(), search_query)


def live_retrieval(
    tutor: Tutor,
    items: list[GoldenItem],
    k: int,
    progress: Progress = no_progress,
    queries: dict[str, str] | None = None,
) -> RetrievalReport:
    """hit@k, recall@k and MRR on the current code and index, for items with reference sources.

    The query is the pipeline's own: ``queries`` (an item's recorded search query) where given, else the
    question; a follow-up with no recorded query is made standalone by the pipeline (a model call)."""
    scored = [i for i in items if i.reference_sources]
    results = []
    for n, item in enumerate(scored, start=1):
        query = (queries or {}).get(item.id) or (
            tutor.answers.search_query(item.question, item.history_messages()) if item.history else item.question
        )
        chunks = tutor.retriever.retrieve(query, top_k=k)
        results.append(score_item(item.id, item.reference_sources, chunks))
        progress("retrieve", n, len(scored))
    return RetrievalReport(k=k, items=results)
