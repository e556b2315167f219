"""The Library page, headless: indexed documents with chunk counts, the last report, the ingest button."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.fixtures.ingest.site import Page, Site, html

PAGE = str(REPO / "ui" / "pages" / "library.py")


@pytest.fixture
def site():
    server = Site().start()
    server.routes["/course"] = Page(html("Course", "Twelve weeks of applied deep learning with projects. " * 4))
    yield server
    server.stop()


@pytest.fixture
def page_env(monkeypatch, make_settings, mini_corpus, site):
    (mini_corpus / "links.md").write_text(
        f"# Links\n\nTake the [course]({site.url('/course')}); the [old syllabus]({site.url('/gone')}) moved.\n"
    )
    settings = make_settings(KNOWLEDGE_DIR=mini_corpus)
    for key, value in {
        "DATA_DIR": str(settings.data_dir),
        "KNOWLEDGE_DIR": str(mini_corpus),
        "FETCH_ALLOW_LOOPBACK": "true",
        "FETCH_HOST_INTERVAL_S": "0",
    }.items():
        monkeypatch.setenv(key, value)
    return settings


def test_library_lists_documents_and_ingests_with_links(page_env, site, embedder):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert any("Nothing is indexed yet" in i.value for i in at.info)

    assert at.checkbox[0].label == "Fetch linked pages" and not at.checkbox[0].value  # off: KNOWLEDGE_LINKS
    at.checkbox[0].check()
    at.button[0].click().run()  # the form's Ingest button, on KNOWLEDGE_DIR
    assert not at.exception
    assert any("Ingest finished: 5 documents" in s.value for s in at.success)

    table = at.dataframe[0].value
    chunks = dict(zip(table["document"].map(lambda s: s.rsplit("/", 1)[-1]), table["chunks"], strict=True))
    assert set(chunks) == {"deploy.md", "interviews.md", "maths.md", "links.md", "course"}
    assert all(n >= 1 for n in chunks.values())
    linked = table[table["origin"] == "link"]
    assert list(linked["linked from"].map(lambda s: s.rsplit("/", 1)[-1])) == ["links.md"]

    shown = " ".join(t.value for t in at.text)
    assert site.url("/gone") in shown and "HTTP 404" in shown
    labels = [e.label.replace("\\", "") for e in at.expander]  # labels are Markdown-escaped
    assert f"{page_env.knowledge_dir.resolve() / 'links.md'} (1)" in labels


def test_library_shows_an_ingest_made_from_the_command_line(page_env, embedder):
    from assistant.vectorstore.chroma import open_client
    from ingest.pipeline import Ingestor

    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.dataframe
    Ingestor(page_env, open_client(page_env), lambda: embedder).run([page_env.knowledge_dir])
    at.run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 4
    assert any("documents: 4 new" in t.value for t in at.text)
