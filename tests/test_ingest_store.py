"""Safety of the store: one writer, interrupted and killed runs, --rebuild swaps, damage detection, refresh."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading

import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from filelock import FileLock

from assistant.errors import IndexError_, TutorError
from assistant.rag.retrieval import Retriever
from assistant.services import Tutor
from assistant.vectorstore.chroma import open_client, open_collection
from ingest.pipeline import Ingestor
from ingest.store import IndexStore
from tests.conftest import REPO

TOPICS = ["tensors", "gradients", "regularisation", "embeddings", "attention", "tokenisers"]


def write_corpus(folder, version="v1", docs=3, sections=11):
    folder.mkdir(exist_ok=True)
    for d in range(docs):
        lines = [f"# Notes {d}", ""]
        for s in range(sections):
            topic = TOPICS[(d + s) % len(TOPICS)]
            lines += [
                f"## Section {s}",
                "",
                f"Part {s} of notes {d} ({version}) explains {topic} in some detail. " * 3,
                "",
            ]
        (folder / f"notes-{d}.md").write_text("\n".join(lines))
    return folder


def run(settings, embedder, inputs, **kwargs):
    return Ingestor(settings, open_client(settings), lambda: embedder, **kwargs.pop("ingestor", {})).run(
        inputs, **kwargs
    )


def fresh_collection(settings):
    return open_collection(open_client(settings, fresh=True), settings)


def test_a_second_writer_fails_clearly_or_waits(make_settings, mini_corpus, embedder):
    settings = make_settings()
    settings.data_dir.mkdir(parents=True)
    held = FileLock(str(settings.data_dir / "ingest.lock"), thread_local=False)
    held.acquire()
    try:
        with pytest.raises(TutorError, match="Another ingest is writing"):
            run(settings, embedder, [mini_corpus])
        threading.Timer(0.5, held.release).start()
        report = run(settings, embedder, [mini_corpus], ingestor={"lock_timeout_s": 30})
    finally:
        if held.is_locked:
            held.release()
    assert len(report.documents_new) == 3


def test_ctrl_c_mid_embedding_leaves_the_previous_index_whole(make_settings, tmp_path, embedder):
    settings = make_settings()
    corpus = write_corpus(tmp_path / "c")
    before = run(settings, embedder, [corpus])
    old_ids = set(fresh_collection(settings).get()["ids"])
    assert before.chunks_total > 32  # more than one embedding batch

    write_corpus(corpus, version="v2")

    def interrupt(phase, done, total):
        if phase == "embed" and done >= 32:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(settings, embedder, [corpus], progress=interrupt)
    col = fresh_collection(settings)
    assert old_ids <= set(col.get()["ids"])  # every chunk of the previous version is still there
    hits = Retriever(col, embedder, top_k=3).retrieve("What do the notes say about attention?")
    assert hits and all("attention" in h.text for h in hits)

    after = run(settings, embedder, [corpus])
    assert sorted(after.documents_changed) == sorted(before.documents_new)
    assert after.chunks_total == before.chunks_total == sum(after.chunks_per_doc.values())
    assert not any("(v1)" in d for d in fresh_collection(settings).get()["documents"])


KILL_SCRIPT = """
import os, pathlib, signal, sys
import assistant
from assistant.embedding.minilm import load_embedder
from assistant.settings import load_settings
from assistant.vectorstore.chroma import open_client
from ingest.pipeline import Ingestor

settings = load_settings(env_file=None, DATA_DIR=sys.argv[1])
corpus = pathlib.Path(sys.argv[2])
ingestor = Ingestor(settings, open_client(settings), load_embedder)
print(ingestor.run([corpus]).chunks_total, flush=True)  # a complete run another process should see

for doc in corpus.glob("notes-*.md"):  # then every document changes, and the writer dies mid-embedding
    doc.write_text(doc.read_text().replace("(v1)", "(v2)"))

def die(phase, done, total):
    if phase == "embed" and done >= 32:
        os.kill(os.getpid(), signal.SIGKILL)

ingestor.run([corpus], progress=die)
"""


def test_killed_writer_leaves_the_index_queryable_and_a_running_app_sees_new_writes(make_settings, tmp_path, embedder):
    settings = make_settings()
    corpus = write_corpus(tmp_path / "c")
    before = run(settings, embedder, [corpus])
    tutor = Tutor(settings, embedder=embedder)  # a long-running app, holding its client
    assert tutor.collection.count() == before.chunks_total

    (corpus / "extra.md").write_text("# Extra\n\n## Quantisation\n\nInt8 quantisation shrinks a model fourfold.\n")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILL_SCRIPT), str(settings.data_dir), str(corpus)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr  # SIGKILL, mid-run
    grown = int(proc.stdout.split()[0])
    assert grown > before.chunks_total

    tutor.refresh_index()  # the app sees the other process's completed run ...
    assert tutor.collection.count() >= grown  # ... and the killed run lost nothing
    top = tutor.retriever.retrieve("How much does int8 quantisation shrink a model?", top_k=1)
    assert top[0].source.endswith("extra.md")
    hits = tutor.retriever.retrieve("What do the notes say about attention?", top_k=3)
    assert hits and all("attention" in h.text for h in hits)

    after = run(settings, embedder, [corpus])  # the next run finishes the job, without duplicates
    assert after.chunks_total == grown == sum(after.chunks_per_doc.values())
    assert not any("(v1)" in d for d in fresh_collection(settings).get()["documents"])


def test_rebuild_keeps_the_old_index_answering_until_the_new_one_is_complete(make_settings, mini_corpus, embedder):
    settings = make_settings()
    first = run(settings, embedder, [mini_corpus])
    tutor = Tutor(settings, embedder=embedder)
    (mini_corpus / "interviews.md").unlink()
    seen: list[tuple[int, list[str]]] = []

    def look(phase, done, total):
        if phase == "embed":  # mid-rebuild: the live index is the old one, whole, and answers
            live = open_collection(open_client(settings), settings)
            hits = Retriever(live, embedder, top_k=1).retrieve("How do I prepare for interviews?")
            seen.append((live.count(), [h.source for h in hits]))

    rebuilt = run(settings, embedder, [mini_corpus], rebuild=True, progress=look)
    assert seen and all(count == first.chunks_total for count, _ in seen)
    assert seen[0][1][0].endswith("interviews.md")
    assert rebuilt.rebuilt and len(rebuilt.documents_new) == 2
    client = open_client(settings)
    assert sorted(c.name for c in client.list_collections()) == ["roadmap"]
    assert rebuilt.chunks_total == sum(rebuilt.chunks_per_doc.values()) < first.chunks_total
    tutor.refresh_index()
    assert tutor.collection.count() == rebuilt.chunks_total


def test_interrupted_rebuild_changes_nothing(make_settings, mini_corpus, embedder):
    settings = make_settings()
    first = run(settings, embedder, [mini_corpus])
    (mini_corpus / "deploy.md").unlink()

    def interrupt(phase, done, total):
        if phase == "embed" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(settings, embedder, [mini_corpus], rebuild=True, progress=interrupt)
    assert fresh_collection(settings).count() == first.chunks_total
    again = run(settings, embedder, [mini_corpus])  # repairs what the interrupted run left
    assert sorted(c.name for c in open_client(settings).list_collections()) == ["roadmap"]
    assert [s.rsplit("/", 1)[-1] for s in again.documents_removed] == ["deploy.md"]


def test_a_store_short_of_the_recorded_count_is_reported_as_damaged(make_settings, mini_corpus, embedder):
    settings = make_settings()
    first = run(settings, embedder, [mini_corpus])
    col = open_collection(open_client(settings), settings)
    col.delete(ids=col.get()["ids"][:2])
    with pytest.raises(IndexError_, match=r"holds \d+ chunks but the last ingest left") as err:
        run(settings, embedder, [mini_corpus])
    assert "--rebuild" in str(err.value)
    assert fresh_collection(settings).count() == first.chunks_total - 2  # nothing silently re-added
    fixed = run(settings, embedder, [mini_corpus], rebuild=True)
    assert fixed.chunks_total == first.chunks_total


def test_an_emptied_store_file_is_reported_as_damaged(make_settings, mini_corpus, embedder):
    settings = make_settings()
    run(settings, embedder, [mini_corpus])
    SharedSystemClient.clear_system_cache()
    (settings.chroma_dir / "chroma.sqlite3").write_bytes(b"")
    with pytest.raises(IndexError_, match="is missing, but the last ingest left"):
        run(settings, embedder, [mini_corpus])


def test_a_run_interrupted_after_deleting_is_not_mistaken_for_damage(make_settings, mini_corpus, embedder):
    settings = make_settings()
    first = run(settings, embedder, [mini_corpus])
    store = IndexStore(open_client(settings), settings)
    col = open_collection(open_client(settings), settings)
    store.journal()  # what a run does first ...
    store.plan_removals(2)  # ... and before deleting; then it dies
    doomed = col.get(where={"doc_id": "interview-basics"})["ids"][:2]
    assert doomed
    col.delete(ids=doomed)
    report = run(settings, embedder, [mini_corpus])
    assert report.interrupted_run_recovered
    assert not (settings.data_dir / "ingest-journal.json").exists()
    assert report.chunks_total >= first.chunks_total - 2


def test_a_broken_index_file_is_reported_as_damaged_and_rebuild_repairs_it(make_settings, tmp_path):
    from llama_index.core.embeddings import MockEmbedding

    settings = make_settings()
    corpus = write_corpus(tmp_path / "c", docs=30, sections=43)
    mock = MockEmbedding(embed_dim=384)  # the vectors do not matter; enough chunks that Chroma persists HNSW files
    first = run(make_settings(DATA_DIR=tmp_path / "written"), mock, [corpus])
    assert first.chunks_total > 1200  # past Chroma's sync threshold (1,000)
    shutil.copytree(tmp_path / "written", settings.data_dir)  # opened fresh (chromadb caches index files)
    headers = list(settings.chroma_dir.glob("*/header.bin"))
    assert len(headers) == 1
    headers[0].write_bytes(b"")
    with pytest.raises(IndexError_, match=r"cannot be read \(InternalError\).*--rebuild"):
        run(settings, mock, [corpus])
    SharedSystemClient.clear_system_cache()
    fixed = run(settings, mock, [corpus], rebuild=True)
    assert fixed.chunks_total == first.chunks_total
    col = fresh_collection(settings)
    assert len(col.query(query_embeddings=[[1.0] + [0.0] * 383], n_results=5)["ids"][0]) == 5
    assert run(settings, mock, [corpus]).chunks_added == 0
