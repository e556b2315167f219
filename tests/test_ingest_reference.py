"""Documents the project did not write: ../shared/reference ingested as a user folder (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.vectorstore.chroma import open_client, open_collection
from ingest.documents import SUPPORTED
from ingest.pipeline import Ingestor
from tests.conftest import REPO

REFERENCE = REPO.parent / "shared" / "reference"


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference is not present")
def test_reference_folder_is_ingested_with_every_document_and_its_chunk_count(make_settings, embedder):
    settings = make_settings()
    report = Ingestor(settings, open_client(settings), lambda: embedder).run([REFERENCE])
    expected = sorted(
        p.relative_to(REFERENCE).as_posix()
        for p in REFERENCE.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED
        and p.name.lower() != "readme.md"
        and not any(part.startswith(".") for part in p.relative_to(REFERENCE).parts)
    )
    assert expected, "the reference folder holds no documents"

    def name(source: str) -> str:
        return Path(source).resolve().relative_to(REFERENCE.resolve()).as_posix()

    assert sorted(name(s) for s in report.documents_new) == expected
    assert not report.documents_skipped
    counts = {name(s): n for s, n in report.chunks_per_doc.items()}
    assert sorted(counts) == expected and all(n > 0 for n in counts.values())
    assert sum(counts.values()) == report.chunks_total == report.chunks_added

    col = open_collection(open_client(settings), settings)
    for source, n in report.chunks_per_doc.items():  # the report's counts are what the index holds
        assert len(col.get(where={"source": source})["ids"]) == n
    markdown = [m for m in col.get(include=["metadatas"])["metadatas"] if m["kind"] == "markdown"]
    assert any(m["heading_path"].count(" > ") >= 2 for m in markdown)  # headings kept, three levels deep
