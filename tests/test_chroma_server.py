"""Scale-out: the same ingest and retrieval against a real Chroma server (`chroma run`) on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assistant.errors import IndexError_
from assistant.services import Tutor
from assistant.vectorstore.chroma import open_client
from ingest.pipeline import Ingestor

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"chroma run did not start: {(tmp_path / 'chroma.log').read_text()[-500:]}")
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_ingest_and_retrieval_against_a_chroma_server(make_settings, mini_corpus, embedder, chroma_server):
    settings = make_settings(CHROMA_HOST="127.0.0.1", CHROMA_PORT=chroma_server)
    ingest = Ingestor(settings, open_client(settings), lambda: embedder)
    first = ingest.run([mini_corpus])
    assert len(first.documents_new) == 3 and first.store == f"127.0.0.1:{chroma_server}"
    assert not settings.chroma_dir.exists()  # nothing went to the embedded store

    tutor = Tutor(settings, embedder=embedder)
    top = tutor.retriever.retrieve("Which maths should I learn first?", top_k=1)
    assert top[0].doc_id == "maths-basics"

    again = ingest.run([mini_corpus])
    assert again.chunks_added == 0 and again.chunks_total == first.chunks_total

    (mini_corpus / "deploy.md").unlink()
    rebuilt = ingest.run([mini_corpus], rebuild=True)  # the staging-and-swap works over HTTP too
    assert rebuilt.chunks_total < first.chunks_total
    names = sorted(c.name for c in open_client(settings).list_collections())
    assert names == ["roadmap"]
    tutor.refresh_index()
    assert {c.doc_id for c in tutor.retriever.retrieve("deploy a model with FastAPI", top_k=5)} <= {
        "maths-basics",
        "interview-basics",
    }


def test_unreachable_server_is_a_one_line_error(make_settings):
    settings = make_settings(CHROMA_HOST="127.0.0.1", CHROMA_PORT=free_port())
    with pytest.raises(IndexError_, match="chroma run"):
        Ingestor(settings, open_client(settings), lambda: None).run([Path("knowledge")])
