"""Hybrid retrieval: BM25 (bm25s) beside vector search, fused by reciprocal rank, kept in step by ingest.

Real Chroma in a temp folder and the real MiniLM embedder. The corpus has a chunk that mentions an exam code
("MLS-C01") once, inside a paragraph about flashcards, next to short chunks about other exam codes: vector
search ranks it low for "What is MLS-C01?", BM25 finds it first.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.errors import SettingsError
from assistant.rag import lexical as lexical_module
from assistant.rag.fusion import reciprocal_rank_fusion
from assistant.rag.lexical import SIDECAR, LexicalIndex, collection_fingerprint, sync_lexical
from assistant.rag.retrieval import Retriever
from assistant.services import Tutor
from assistant.settings import load_settings
from assistant.vectorstore.chroma import get_or_create_collection, open_client, open_collection
from tests.conftest import MINI, ingest_folder

QUERY = "What is MLS-C01?"
EXAM_CODES = {
    "Solutions architect": "SAA-C03 is the associate solutions architect exam code.",
    "Developer": "DVA-C02 is the developer associate exam code.",
    "Machine learning engineer": "MLA-C02 is the machine learning engineer associate exam code.",
    "Data engineer": "DEA-C02 is the data engineer associate exam code.",
    "Cloud practitioner": "CLF-C02 is the cloud practitioner exam code.",
    "AI practitioner": "AIF-C02 is the AI practitioner exam code.",
}
FLASHCARDS = (
    "Spaced repetition works best when every card asks one question and the answer fits on a line. Review the deck "
    "every morning, move cards you missed back to the first box, and never add more than twenty new cards a day, "
    "because the review load grows with every card you keep. I kept one deck per stage of the roadmap, tagged each "
    "card with its source chapter, and retired cards once I could answer them a month apart; that is how I got "
    "through MLS-C01 while working full time, with forty minutes a day and a paper notebook for the mistakes."
)


def write_hybrid_corpus(folder: Path) -> Path:
    shutil.copytree(MINI, folder)
    lines = ["---", "id: exam-codes", "title: Exam codes", "stage: 11", "---", "", "# Exam codes", ""]
    for heading, text in EXAM_CODES.items():
        lines += [f"## {heading}", "", text, ""]
    (folder / "codes.md").write_text("\n".join(lines))
    front = "---\nid: study-habits\ntitle: Study habits\nstage: 1\n---\n\n"
    (folder / "study.md").write_text(f"{front}# Study habits\n\n## Flashcards\n\n{FLASHCARDS}\n")
    return folder


@pytest.fixture
def hybrid(make_settings: Any, tmp_path: Path, embedder: Any) -> tuple[Any, Any, str]:
    """(settings, live collection, id of the chunk that mentions MLS-C01), ingested."""
    settings = make_settings()
    ingest_folder(settings, write_hybrid_corpus(tmp_path / "corpus"), embedder)
    col = open_collection(open_client(settings), settings)
    got = col.get(where={"doc_id": "study-habits"}, include=["documents"])
    target = [cid for cid, doc in zip(got["ids"], got["documents"], strict=True) if "MLS-C01" in doc]
    assert len(target) == 1
    return settings, col, target[0]


def stages_of(col: Any, ids: list[str]) -> set[int]:
    return {m["stage"] for m in col.get(ids=ids, include=["metadatas"])["metadatas"]} if ids else set()


# --- reciprocal rank fusion ----------------------------------------------------------------------


def test_rrf_sums_weighted_reciprocal_ranks():
    fused = reciprocal_rank_fusion({"vector": ["a", "b", "c"], "lexical": ["c", "a"]})
    assert [i for i, _ in fused] == ["a", "c", "b"]
    scores = dict(fused)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)


def test_rrf_weights_can_flip_the_order_and_zero_drops_a_ranking():
    rankings = {"vector": ["a", "b", "c"], "lexical": ["c", "a"]}
    fused = reciprocal_rank_fusion(rankings, {"vector": 1.0, "lexical": 3.0})
    assert [i for i, _ in fused] == ["c", "a", "b"]
    assert dict(fused)["c"] == pytest.approx(1 / 63 + 3 / 61)
    only_vector = reciprocal_rank_fusion({"vector": ["a", "b"], "lexical": ["z", "a"]}, {"lexical": 0.0})
    assert only_vector == [("a", pytest.approx(1 / 61)), ("b", pytest.approx(1 / 62))]
    assert reciprocal_rank_fusion({"vector": ["a"]}, k=10) == [("a", pytest.approx(1 / 11))]


def test_rrf_with_a_ranking_empty_or_missing_an_id():
    assert reciprocal_rank_fusion({"vector": ["a", "b"], "lexical": []}) == [
        ("a", pytest.approx(1 / 61)),
        ("b", pytest.approx(1 / 62)),
    ]
    fused = reciprocal_rank_fusion({"vector": ["a", "b"], "lexical": ["x"]})
    assert [i for i, _ in fused] == ["a", "x", "b"]  # a and x tie at 1/61: a was met first
    assert reciprocal_rank_fusion({}) == []
    assert reciprocal_rank_fusion({"vector": ["a", "a", "b"]}) == [  # a repeated counts once, at its best rank
        ("a", pytest.approx(1 / 61)),
        ("b", pytest.approx(1 / 63)),
    ]


def test_rrf_ties_go_to_the_best_single_rank_then_to_first_appearance():
    # k=0: c = 1/1, b = 1/2 + 1/2, a = 1/1: a three-way tie. c and a have a rank 1, b only rank 2;
    # c was met before a.
    fused = reciprocal_rank_fusion({"x": ["c", "b"], "y": ["a", "b"]}, k=0)
    assert fused == [("c", 1.0), ("a", 1.0), ("b", 1.0)]
    swapped = reciprocal_rank_fusion({"y": ["a", "b"], "x": ["c", "b"]}, k=0)
    assert [i for i, _ in swapped] == ["a", "c", "b"]
    assert [i for i, _ in reciprocal_rank_fusion({"v": ["a", "b"], "l": ["b", "a"]})] == ["a", "b"]
    assert reciprocal_rank_fusion({"x": ["c", "b"], "y": ["a", "b"]}, k=0) == fused  # deterministic


def test_rrf_rejects_negative_weights():
    with pytest.raises(ValueError):
        reciprocal_rank_fusion({"v": ["a"]}, {"v": -1.0})


# --- hybrid search -----------------------------------------------------------------------------


def test_bm25_finds_a_rare_term_that_vector_search_ranks_low(hybrid, embedder):
    settings, col, target = hybrid
    vector_only = Retriever(col, embedder, top_k=5).retrieve(QUERY)
    assert target not in [c.id for c in vector_only]

    retriever = Retriever(col, embedder, top_k=3, lexical_dir=settings.lexical_dir)
    chunks, trace = retriever.search(QUERY)
    vector_rank = next(h.rank for h in trace.vector if h.id == target)
    assert vector_rank > 5  # the vector ranking buries it ...
    assert [h.id for h in trace.lexical] == [target]  # ... BM25 finds only it ("what" is a stopword) ...
    assert trace.lexical[0].rank == 1 and trace.lexical[0].source.endswith("study.md")
    assert chunks[0].id == target  # ... and the fusion puts it first
    assert (chunks[0].vector_rank, chunks[0].lexical_rank) == (vector_rank, 1)
    assert chunks[0].fused == pytest.approx(1 / 61 + 1 / (60 + vector_rank))
    assert [c.id for c in chunks[1:]] == [h.id for h in trace.vector[:2]]  # then the vector ranking
    assert [c.id for c in retriever.retrieve(QUERY)] == [c.id for c in chunks]


def test_trace_holds_the_vector_lexical_and_fused_rankings(hybrid, embedder):
    settings, col, _ = hybrid
    retriever = Retriever(col, embedder, top_k=4, lexical_dir=settings.lexical_dir, candidates=6)
    chunks, trace = retriever.search("Which exam is MLS-C01?")
    assert trace.query == "Which exam is MLS-C01?"
    assert [h.rank for h in trace.vector] == list(range(1, 7))
    assert [h.rank for h in trace.lexical] == list(range(1, len(trace.lexical) + 1)) and len(trace.lexical) == 6
    vector_scores = [h.score for h in trace.vector]
    assert vector_scores == sorted(vector_scores, reverse=True) and all(-1 <= s <= 1 for s in vector_scores)
    bm25_scores = [h.score for h in trace.lexical]
    assert bm25_scores == sorted(bm25_scores, reverse=True) and all(s > 0 for s in bm25_scores)
    assert {h.id for h in trace.fused} == {h.id for h in trace.vector} | {h.id for h in trace.lexical}
    assert [h.rank for h in trace.fused] == list(range(1, len(trace.fused) + 1))
    assert [h.id for h in trace.fused[:4]] == [c.id for c in chunks]
    vector_rank = {h.id: h.rank for h in trace.vector}
    lexical_rank = {h.id: h.rank for h in trace.lexical}
    for chunk, hit in zip(chunks, trace.fused, strict=False):
        assert chunk.fused == hit.score
        assert chunk.vector_rank == vector_rank.get(chunk.id) and chunk.lexical_rank == lexical_rank.get(chunk.id)
        expected = sum(1 / (60 + r) for r in (chunk.vector_rank, chunk.lexical_rank) if r is not None)
        assert chunk.fused == pytest.approx(expected)
        assert hit.source == chunk.source and hit.heading_path == chunk.heading_path


def test_a_chunk_only_bm25_found_keeps_its_real_cosine(hybrid, embedder, monkeypatch):
    settings, col, target = hybrid
    calls: list[str] = []
    original = type(embedder)._get_query_embedding

    def counting(self: Any, query: str) -> Any:
        calls.append(query)
        return original(self, query)

    monkeypatch.setattr(type(embedder), "_get_query_embedding", counting)
    retriever = Retriever(col, embedder, top_k=3, lexical_dir=settings.lexical_dir, candidates=3)
    chunks, trace = retriever.search(QUERY)
    assert calls == [QUERY]  # the query is embedded once per search
    found = next(c for c in chunks if c.id == target)
    assert found.vector_rank is None and found.lexical_rank == 1 and target not in [h.id for h in trace.vector]

    query_vector = np.asarray(embedder.get_query_embedding(QUERY))
    stored = np.asarray(col.get(ids=[target], include=["embeddings"])["embeddings"][0])
    cosine = float(query_vector @ stored / (np.linalg.norm(query_vector) * np.linalg.norm(stored)))
    assert found.score == pytest.approx(cosine, abs=1e-5)
    by_vector = {c.id: c for c in Retriever(col, embedder, top_k=50).retrieve(QUERY)}
    assert found.score == pytest.approx(by_vector[target].score, abs=1e-4)  # what Chroma's distance says
    assert found.score != pytest.approx(found.fused)
    # read from Chroma by id, the chunk carries exactly what the vector path gives
    ranking = {"score", "fused", "vector_rank", "lexical_rank"}
    assert found.model_dump(exclude=ranking) == by_vector[target].model_dump(exclude=ranking)
    assert found.heading_path == "Study habits > Flashcards" and found.doc_id == "study-habits" and found.stage == 1
    assert found.text.endswith(FLASHCARDS) and found.source.endswith("study.md")


def test_stage_filter_applies_to_both_rankings(hybrid, embedder):
    settings, col, target = hybrid
    index = LexicalIndex.open(col, settings.lexical_dir)
    exam = index.search("exam MLS-C01", 20, stage=11)
    assert len(exam) == len(EXAM_CODES) + 1 and target not in [i for i, _ in exam]  # + the "# Exam codes" chunk
    assert stages_of(col, [i for i, _ in exam]) == {11}
    assert [i for i, _ in index.search("exam MLS-C01", 20, stage=1)] == [target]
    assert index.search("exam MLS-C01", 20)[0][0] == target
    assert index.search("exam MLS-C01", 20, stage=5) == []

    retriever = Retriever(col, embedder, top_k=5, lexical_dir=settings.lexical_dir)
    chunks, trace = retriever.search(QUERY, stage=9)
    assert chunks and {c.stage for c in chunks} == {9} and trace.lexical == []
    staged, trace = retriever.search(QUERY, stage=1)
    assert staged[0].id == target and {c.stage for c in staged} == {1}
    assert stages_of(col, [h.id for h in trace.vector]) == {1}


def test_lexical_weight_zero_or_no_directory_is_vector_only(hybrid, embedder, tmp_path):
    _, col, target = hybrid
    plain = Retriever(col, embedder, top_k=5)
    off = Retriever(col, embedder, top_k=5, lexical_dir=tmp_path / "lex", lexical_weight=0)
    for retriever in (plain, off):
        chunks, trace = retriever.search(QUERY)
        assert trace.lexical == [] and target not in [c.id for c in chunks]
        assert [c.id for c in chunks] == [h.id for h in trace.vector[:5]] == [h.id for h in trace.fused[:5]]
        assert all(c.lexical_rank is None and c.vector_rank == i for i, c in enumerate(chunks, 1))
    assert not (tmp_path / "lex").exists()
    with pytest.raises(ValueError):
        Retriever(col, embedder, lexical_dir=tmp_path / "lex", vector_weight=0, lexical_weight=0)


def test_lexical_only_ranking_still_reports_cosines(hybrid, embedder):
    settings, col, target = hybrid
    retriever = Retriever(col, embedder, top_k=5, lexical_dir=settings.lexical_dir, vector_weight=0)
    chunks, trace = retriever.search(QUERY)
    assert trace.vector == [] and [c.id for c in chunks] == [target]
    assert -1 <= chunks[0].score < 1 and chunks[0].score != pytest.approx(chunks[0].fused)


# --- the lexical index on disk -----------------------------------------------------------------


def test_lexical_index_is_saved_reloaded_and_rebuilt_when_missing_or_stale(hybrid, monkeypatch):
    settings, col, target = hybrid
    directory = settings.lexical_dir
    shutil.rmtree(directory, ignore_errors=True)
    built = LexicalIndex.open(col, directory)
    assert (directory / SIDECAR).is_file()
    assert built.fingerprint == collection_fingerprint(col) and len(built) == col.count()
    loaded = LexicalIndex.load(directory)
    assert loaded is not None and loaded.ids == built.ids and loaded.stages == built.stages
    assert loaded.search(QUERY, 5) == built.search(QUERY, 5) == [(target, pytest.approx(built.search(QUERY, 1)[0][1]))]

    def no_build(cls: Any, collection: Any) -> Any:
        raise AssertionError("rebuilt an index that was in step")

    with monkeypatch.context() as m:
        m.setattr(LexicalIndex, "build", classmethod(no_build))
        assert LexicalIndex.open(col, directory).ids == built.ids  # from disk

    shutil.rmtree(directory)  # deleted: rebuilt and saved again
    assert LexicalIndex.load(directory) is None
    assert LexicalIndex.open(col, directory).search(QUERY, 5)[0][0] == target
    assert LexicalIndex.load(directory) is not None

    col.delete(ids=[target])  # the collection changed: the fingerprint no longer matches
    assert LexicalIndex.load(directory).fingerprint != collection_fingerprint(col)
    fresh = LexicalIndex.open(col, directory)
    assert target not in fresh.ids and fresh.search(QUERY, 5) == []
    assert LexicalIndex.load(directory).fingerprint == collection_fingerprint(col)


@pytest.mark.parametrize("damage", ["sidecar", "sidecar-shape", "arrays", "arrays-missing"])
def test_a_damaged_index_is_rebuilt_not_crashed(hybrid, damage):
    settings, col, target = hybrid
    directory = settings.lexical_dir
    LexicalIndex.open(col, directory)
    data_dir = directory / json.loads((directory / SIDECAR).read_text())["data"]
    if damage == "sidecar":
        (directory / SIDECAR).write_text('{"fingerprint": "3:ab", "ids": ["a"')
    elif damage == "sidecar-shape":
        (directory / SIDECAR).write_text('{"fingerprint": "1:ab", "ids": ["a", "b"], "stages": [1], "data": null}')
    elif damage == "arrays":
        (data_dir / "data.csc.index.npy").write_bytes(b"\x93NUMPY garbage")
    else:
        shutil.rmtree(data_dir)
    assert LexicalIndex.load(directory) is None
    index = LexicalIndex.open(col, directory)
    assert index.search(QUERY, 5)[0][0] == target
    assert LexicalIndex.load(directory) is not None


def test_a_write_killed_before_the_swap_leaves_the_previous_index(hybrid, monkeypatch):
    settings, col, target = hybrid
    directory = settings.lexical_dir
    before = LexicalIndex.open(col, directory)
    col.delete(ids=[target])

    def killed(src: Any, dst: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(lexical_module.os, "replace", killed)
        with pytest.raises(KeyboardInterrupt):
            sync_lexical(col, directory)
    survivor = LexicalIndex.load(directory)
    assert survivor is not None and survivor.fingerprint == before.fingerprint
    assert survivor.search(QUERY, 5)[0][0] == target  # whole, though now stale ...
    assert LexicalIndex.open(col, directory).search(QUERY, 5) == []  # ... so the next open rebuilds it
    versions = [p.name for p in directory.iterdir() if p.name != SIDECAR]
    assert len(versions) <= 2 and not any(n.startswith(".") for n in versions)  # leftovers cleaned up


def test_racing_writers_and_readers_leave_one_whole_index(hybrid):
    settings, col, target = hybrid
    directory = settings.lexical_dir
    shutil.rmtree(directory, ignore_errors=True)
    errors: list[BaseException] = []
    results: list[list[tuple[str, float]]] = []

    def write() -> None:
        try:
            sync_lexical(col, directory)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            results.append(LexicalIndex.open(col, directory).search(QUERY, 5))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (write, read) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert [r[0][0] for r in results] == [target] * 4
    final = LexicalIndex.load(directory)
    assert final is not None and final.fingerprint == collection_fingerprint(col)


def test_an_empty_collection_searches_to_nothing(make_settings, embedder, tmp_path):
    settings = make_settings()
    col = get_or_create_collection(open_client(settings), settings)
    index = LexicalIndex.open(col, tmp_path / "lex")
    assert len(index) == 0 and index.search("anything at all", 5) == []
    reloaded = LexicalIndex.load(tmp_path / "lex")
    assert reloaded is not None and reloaded.search("anything", 5) == []
    assert LexicalIndex.build(col).search("", 3) == []


# --- ingest keeps it in step -----------------------------------------------------------------


def in_step(settings: Any) -> bool:
    live = open_collection(open_client(settings), settings)
    saved = LexicalIndex.load(settings.lexical_dir)
    return saved is not None and saved.fingerprint == collection_fingerprint(live)


def test_ingest_keeps_the_lexical_index_in_step(make_settings, mini_corpus, embedder):
    settings = make_settings()
    ingest_folder(settings, mini_corpus, embedder)
    assert in_step(settings)  # written by ingest, before any retriever opened it

    (mini_corpus / "optim.md").write_text(
        "# Optimisers\n\n## Choosing one\n\nFine-tune transformers with AdamW and a linear warm-up.\n"
    )
    added = ingest_folder(settings, mini_corpus, embedder)
    assert [s.rsplit("/", 1)[-1] for s in added.documents_new] == ["optim.md"] and in_step(settings)
    hits = LexicalIndex.load(settings.lexical_dir).search("AdamW", 5)  # type: ignore[union-attr]
    assert len(hits) == 1
    col = open_collection(open_client(settings), settings)
    chunks, trace = Retriever(col, embedder, lexical_dir=settings.lexical_dir).search("Which optimiser is AdamW?")
    assert trace.lexical[0].id == hits[0][0] and trace.lexical[0].source.endswith("optim.md")
    assert chunks[0].source.endswith("optim.md")

    (mini_corpus / "optim.md").unlink()
    removed = ingest_folder(settings, mini_corpus, embedder)
    assert [s.rsplit("/", 1)[-1] for s in removed.documents_removed] == ["optim.md"] and in_step(settings)
    assert LexicalIndex.load(settings.lexical_dir).search("AdamW", 5) == []  # type: ignore[union-attr]
    col = open_collection(open_client(settings), settings)
    chunks, trace = Retriever(col, embedder, top_k=10, lexical_dir=settings.lexical_dir).search("AdamW")
    assert trace.lexical == [] and not any(c.source.endswith("optim.md") for c in chunks)

    shutil.rmtree(settings.lexical_dir)  # a run that changes nothing still builds a missing index
    unchanged = ingest_folder(settings, mini_corpus, embedder)
    assert unchanged.chunks_added == 0 and unchanged.chunks_removed == 0 and in_step(settings)

    from ingest.pipeline import Ingestor

    deploy_ids = set(open_collection(open_client(settings), settings).get(where={"doc_id": "deploy-basics"})["ids"])
    assert deploy_ids and deploy_ids <= set(LexicalIndex.load(settings.lexical_dir).ids)  # type: ignore[union-attr]
    (mini_corpus / "deploy.md").unlink()
    rebuilt = Ingestor(settings, open_client(settings), lambda: embedder).run([mini_corpus], rebuild=True)
    assert rebuilt.rebuilt and in_step(settings)  # after the swap
    saved = LexicalIndex.load(settings.lexical_dir)
    assert saved is not None and len(saved) == rebuilt.chunks_total and not deploy_ids & set(saved.ids)


# --- wiring ------------------------------------------------------------------------------------


def test_settings_and_tutor_build_hybrid_retrievers(make_settings, embedder, fake_openai):
    settings = make_settings(
        PROVIDER="openai",
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_KEY=fake_openai.api_key,
        RETRIEVAL_CANDIDATES=7,
        RRF_K=10,
        VECTOR_WEIGHT=0.5,
        LEXICAL_WEIGHT=2,
    )
    assert settings.lexical_dir == settings.data_dir / "lexical" / "roadmap"
    defaults = load_settings(env_file=None)
    assert (defaults.retrieval_candidates, defaults.rrf_k, defaults.vector_weight, defaults.lexical_weight) == (
        20,
        60,
        1.0,
        1.0,
    )
    with pytest.raises(SettingsError, match="LEXICAL_WEIGHT"):
        load_settings(env_file=None, VECTOR_WEIGHT=0, LEXICAL_WEIGHT=0)
    with pytest.raises(SettingsError, match="RETRIEVAL_CANDIDATES"):
        load_settings(env_file=None, RETRIEVAL_CANDIDATES=0)

    tutor = Tutor(settings, embedder=embedder)
    get_or_create_collection(tutor.chroma, settings)
    for retriever in (tutor.retriever, tutor.quizzes.retriever, tutor.interviews.retriever):
        assert retriever.lexical_dir == settings.lexical_dir
        assert (retriever.candidates, retriever.rrf_k, retriever.top_k) == (7, 10, settings.top_k)
        assert retriever.weights == {"vector": 0.5, "lexical": 2.0}
    assert {r.embedder.feature for r in (tutor.retriever, tutor.quizzes.retriever, tutor.interviews.retriever)} == {
        "chat",
        "quiz",
        "interview",
    }
