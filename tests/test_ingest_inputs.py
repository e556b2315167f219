"""Every input kind: HTML and PDF read with headings or pages; each kind of bad input skipped with a reason."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from assistant.vectorstore.chroma import open_client, open_collection
from ingest.pipeline import Ingestor
from tests.fixtures.ingest.pdfs import make_pdf

HTML = """<html><head><title>Intro to ML</title><script>track()</script></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Intro to ML</h1><p>Machine learning builds models that learn patterns from data instead of rules.
Supervised learning maps inputs to labelled outputs.</p>
<h2>Linear models</h2><p>Linear regression fits a straight line by least squares; logistic regression predicts
class probabilities with a sigmoid.</p>
<h3>Regularisation</h3><p>Ridge (L2) and lasso (L1) penalties shrink the weights so the model generalises to
unseen data.</p></article><footer>Copyright</footer></body></html>"""


def run(settings, embedder, inputs, **kwargs):
    return Ingestor(settings, open_client(settings), lambda: embedder).run(inputs, **kwargs)


def metadatas(settings):
    return open_collection(open_client(settings), settings).get(include=["metadatas", "documents"])


def test_html_and_pdf_are_read_with_headings_and_pages(tmp_path, make_settings, embedder):
    (tmp_path / "intro.html").write_text(HTML)
    (tmp_path / "optim.pdf").write_bytes(
        make_pdf(["Gradient descent steps against the gradient.", "Adam adapts the step per weight."], title="Optim")
    )
    settings = make_settings()
    report = run(settings, embedder, [tmp_path])
    assert len(report.documents_new) == 2 and not report.documents_skipped
    got = metadatas(settings)
    html_chunks = [(m, d) for m, d in zip(got["metadatas"], got["documents"], strict=True) if m["kind"] == "markdown"]
    paths = {m["heading_path"] for m, _ in html_chunks}
    assert "Intro to ML > Linear models > Regularisation" in paths
    assert all("Home" not in d and "track()" not in d and "Copyright" not in d for _, d in html_chunks)
    assert {m["title"] for m, _ in html_chunks} == {"Intro to ML"}
    pdf = {m["heading_path"]: d for m, d in zip(got["metadatas"], got["documents"], strict=True) if m["kind"] == "pdf"}
    assert set(pdf) == {"Optim > page 1", "Optim > page 2"}
    assert "Gradient descent" in pdf["Optim > page 1"] and "Adam" in pdf["Optim > page 2"]


def _bad_inputs(folder):
    (folder / "empty.md").write_text("")
    (folder / "front-matter-only.md").write_text("---\ntitle: Nothing here\n---\n")
    (folder / "blob.md").write_bytes(b"\x00\x01\x02binary\x00")
    (folder / "latin1.txt").write_bytes("caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    (folder / "locked.pdf").write_bytes(make_pdf(["The secret syllabus."], password="hunter2"))
    (folder / "scanned.pdf").write_bytes(make_pdf(["", ""]))
    (folder / "script.html").write_text(
        "<html><head><script>var a = 1;</script></head><body><script>go()</script></body></html>"
    )
    (folder / "huge.md").write_text("# Huge\n\n" + "word " * 600)
    (folder / "dangling.md").symlink_to(folder / "no-such-target.md")
    return {
        "empty.md": "empty document",
        "front-matter-only.md": "empty document",
        "blob.md": "binary content",
        "latin1.txt": "not UTF-8 text (re-save the file as UTF-8)",
        "corrupt.pdf": "corrupt PDF",
        "locked.pdf": "encrypted PDF",
        "scanned.pdf": "no extractable text in the PDF",
        "script.html": "no readable text",
        "huge.md": "too large",
        "dangling.md": "unreadable: broken symbolic link",
    }


def test_each_bad_input_is_skipped_with_its_reason_and_the_run_continues(tmp_path, make_settings, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    expected = _bad_inputs(folder)
    (folder / "good.md").write_text("# Good\n\nBatch normalisation rescales activations per mini-batch.\n")
    odd = tmp_path / "slides.pptx"
    odd.write_bytes(b"PK\x03\x04")
    settings = make_settings(INGEST_MAX_FILE_MB=0.002)  # 2 KiB: huge.md is 3 KiB
    report = run(settings, embedder, [folder, tmp_path / "missing-folder", odd])
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.documents_skipped}
    for name, reason in expected.items():
        assert reasons[name].startswith(reason), (name, reasons[name])
    assert "INGEST_MAX_FILE_MB" in reasons["huge.md"]
    assert reasons["missing-folder"] == "path does not exist"
    assert reasons["slides.pptx"] == "unsupported file type '.pptx'"
    assert [s.rsplit("/", 1)[-1] for s in report.documents_new] == ["good.md"]
    assert report.chunks_total == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_skipped(tmp_path, make_settings, embedder):
    (tmp_path / "good.md").write_text("# Good\n\nDropout zeroes activations at random during training.\n")
    locked = tmp_path / "locked.md"
    locked.write_text("# Locked\n\ntext\n")
    locked.chmod(0)
    try:
        report = run(make_settings(), embedder, [tmp_path])
    finally:
        locked.chmod(0o644)
    assert {s.source.rsplit("/", 1)[-1]: s.reason for s in report.documents_skipped} == {
        "locked.md": "unreadable: Permission denied"
    }


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_a_file_that_fails_to_read_is_skipped_even_for_root(tmp_path, make_settings, embedder):
    (tmp_path / "good.md").write_text("# Good\n\nWeight decay adds an L2 penalty to the loss.\n")
    (tmp_path / "device.md").symlink_to("/proc/self/mem")  # a regular file whose read fails with EIO
    report = run(make_settings(), embedder, [tmp_path])
    assert {s.source.rsplit("/", 1)[-1]: s.reason for s in report.documents_skipped} == {
        "device.md": "unreadable: Input/output error"
    }
    assert [s.rsplit("/", 1)[-1] for s in report.documents_new] == ["good.md"]


def test_a_document_gone_bad_keeps_its_existing_chunks(tmp_path, make_settings, embedder):
    (tmp_path / "notes.md").write_text("# Notes\n\nCross-validation estimates generalisation error.\n")
    pdf = tmp_path / "optim.pdf"
    pdf.write_bytes(make_pdf(["Momentum accumulates past gradients."]))
    settings = make_settings()
    first = run(settings, embedder, [tmp_path])
    pdf.write_bytes(b"%PDF-1.7 truncated in transit")
    second = run(settings, embedder, [tmp_path])
    assert [(s.source.rsplit("/", 1)[-1], s.reason.split(" (")[0]) for s in second.documents_skipped] == [
        ("optim.pdf", "corrupt PDF")
    ]
    assert second.documents_removed == [] and second.chunks_total == first.chunks_total
    assert any("Momentum" in d for d in metadatas(settings)["documents"])


def test_exit_status_is_non_zero_only_when_nothing_was_ingested(tmp_path, monkeypatch, embedder):
    from ui.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.md").write_text("")
    runner = CliRunner()
    nothing = runner.invoke(app, ["ingest", str(bad), "--no-links"])
    assert nothing.exit_code == 1 and "skipped bad/empty.md: empty document" in nothing.output
    (bad / "ok.md").write_text("# OK\n\nEarly stopping halts training when validation loss rises.\n")
    some = runner.invoke(app, ["ingest", str(bad), "--no-links"])
    assert some.exit_code == 0 and "1 new" in some.output and "1 skipped" in some.output
