"""Ingestion into a real Chroma store in a temp folder: chunks, metadata, incremental updates."""

from assistant.vectorstore.chroma import open_client, open_collection
from tests.conftest import ingest_folder


def chunks_by_source(settings):
    col = open_collection(open_client(settings), settings)
    got = col.get(include=["metadatas"])
    by: dict[str, list[dict]] = {}
    for meta in got["metadatas"]:
        by.setdefault(meta["source"].rsplit("/", 1)[-1], []).append(meta)
    return col, by


def test_chunks_carry_citation_metadata(make_settings, mini_corpus, embedder):
    settings = make_settings()
    report = ingest_folder(settings, mini_corpus, embedder)
    assert len(report.documents_new) == 3 and report.chunks_added >= 5
    _, by = chunks_by_source(settings)
    headings = {m["heading_path"] for m in by["maths.md"]}
    assert "Maths basics > Linear algebra" in headings
    meta = next(m for m in by["maths.md"] if m["heading"] == "Probability")
    assert meta["doc_id"] == "maths-basics" and meta["stage"] == 2
    assert meta["topics"] == "linear-algebra,calculus,probability"
    text = (mini_corpus / "maths.md").read_text()
    body = text[text.index("# Maths basics") :]
    assert body[meta["char_start"] :].startswith("## Probability")
    col = open_collection(open_client(settings), settings)
    got = col.get(where={"doc_id": "maths-basics"}, include=["metadatas", "documents"])
    for m, chunk in zip(got["metadatas"], got["documents"], strict=True):  # offsets locate every chunk exactly
        assert body[m["char_start"] : m["char_end"]] == chunk


def test_reingest_is_a_noop_and_changes_replace(make_settings, mini_corpus, embedder):
    settings = make_settings()
    first = ingest_folder(settings, mini_corpus, embedder)
    again = ingest_folder(settings, mini_corpus, embedder)
    assert again.chunks_added == 0 and again.chunks_total == first.chunks_total
    assert len(again.documents_unchanged) == 3

    doc = mini_corpus / "deploy.md"
    doc.write_text(doc.read_text().replace("FastAPI", "FastAPI or BentoML"))
    changed = ingest_folder(settings, mini_corpus, embedder)
    assert [s.rsplit("/", 1)[-1] for s in changed.documents_changed] == ["deploy.md"]
    col, by = chunks_by_source(settings)
    assert len({m["doc_hash"] for m in by["deploy.md"]}) == 1
    assert any("BentoML" in d for d in col.get(where={"doc_id": "deploy-basics"})["documents"])
    assert changed.chunks_total == first.chunks_total

    (mini_corpus / "interviews.md").unlink()
    removed = ingest_folder(settings, mini_corpus, embedder)
    assert [s.rsplit("/", 1)[-1] for s in removed.documents_removed] == ["interviews.md"]
    _, by = chunks_by_source(settings)
    assert "interviews.md" not in by


def test_bad_files_are_skipped_with_reasons(make_settings, mini_corpus, embedder):
    (mini_corpus / "empty.md").write_text("")
    (mini_corpus / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (mini_corpus / "blob.md").write_bytes(b"\x00\x01\x02binary")
    report = ingest_folder(make_settings(), mini_corpus, embedder)
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.documents_skipped}
    assert reasons["empty.md"] == "empty document"
    assert "UTF-8" in reasons["latin1.txt"]
    assert reasons["blob.md"] == "binary content"
    assert len(report.documents_new) == 3


UNCHANGED_RUN = """
import sys
import assistant
from assistant.settings import load_settings
from assistant.vectorstore.chroma import open_client
from ingest.pipeline import Ingestor

settings = load_settings(env_file=None, DATA_DIR=sys.argv[1])
report = Ingestor(settings, open_client(settings), lambda: None).run([sys.argv[2]])
heavy = sorted(m for m in ("llama_index.core", "torch", "trafilatura", "pypdf") if m in sys.modules)
print(report.chunks_added, len(report.documents_unchanged), ",".join(heavy) or "none")
"""


def test_an_unchanged_run_loads_no_model_and_no_llama_index(make_settings, mini_corpus, embedder):
    """What keeps a no-op `tutor ingest` quick: nothing is chunked or embedded, so none of that is imported."""
    import subprocess
    import sys

    from tests.conftest import REPO

    settings = make_settings()
    ingest_folder(settings, mini_corpus, embedder)
    proc = subprocess.run(
        [sys.executable, "-c", UNCHANGED_RUN, str(settings.data_dir), str(mini_corpus)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "3", "none"]


def test_length_ordered_embedding_gives_each_chunk_its_own_vector(
    make_settings, mini_corpus, embedder, monkeypatch, tmp_path
):
    """Ingest embeds chunks shortest first within a window (less padding, faster); every stored vector must
    still be its own chunk's: the same as when each chunk is embedded alone, in document order."""
    import numpy as np

    import ingest.pipeline as pipeline

    def vectors(window: int, batch: int) -> dict[str, list[float]]:
        monkeypatch.setattr(pipeline, "SORT_WINDOW", window)
        monkeypatch.setattr(pipeline, "EMBED_BATCH", batch)
        settings = make_settings(DATA_DIR=tmp_path / f"data-{window}-{batch}")  # a fresh store each
        report = ingest_folder(settings, mini_corpus, embedder)
        assert report.chunks_added > 0
        got = open_collection(open_client(settings), settings).get(include=["embeddings"])
        return dict(zip(got["ids"], got["embeddings"], strict=True))

    alone, ordered = vectors(1, 1), vectors(4, 2)  # windows of 4 sorted by length, batches of 2
    assert alone.keys() == ordered.keys() and len(alone) >= 5
    for cid, vector in alone.items():
        assert np.allclose(vector, ordered[cid], atol=1e-4), cid
