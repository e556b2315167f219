"""Linked resources: fetched from a local site, stored as documents with their parent, kept in step."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant.rag.retrieval import Retriever
from assistant.vectorstore.chroma import open_client, open_collection
from ingest.crawl import OFFLINE_REASON
from ingest.pipeline import Ingestor, LinkOptions
from tests.fixtures.ingest.site import Page, Site, html

GUIDE = html(
    "Vector databases",
    "A vector database stores embeddings and answers nearest-neighbour queries with an HNSW index. " * 4,
    links={"Deeper dive": "/deeper"},
)
DEEPER = html("HNSW internals", "Hierarchical navigable small world graphs trade memory for recall. " * 4)


@pytest.fixture
def site():
    server = Site().start()
    server.routes.update(
        {
            "/robots.txt": Page("User-agent: *\nAllow: /\n", content_type="text/plain"),
            "/guide": Page(GUIDE, etag='"g1"'),
            "/deeper": Page(DEEPER),
            "/secret": "http://10.0.0.7/internal",
        }
    )
    yield server
    server.stop()


@pytest.fixture
def corpus(tmp_path, site):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "retrieval.md").write_text(
        "---\nid: retrieval\nstage: 7\ntopics: [rag]\n---\n# Retrieval\n\n## Stores\n\n"
        f"Read the [Vector guide]({site.url('/guide')}) first, then [old notes]({site.url('/gone')}).\n"
        f"Also <{site.url('/secret')}>.\n"
    )
    (folder / "extra.md").write_text(f"# Extra\n\nThe same [guide]({site.url('/guide')}) again.\n")
    return folder


@pytest.fixture
def settings(make_settings):
    return make_settings(FETCH_ALLOW_LOOPBACK=True, FETCH_HOST_INTERVAL_S=0, FETCH_TIMEOUT_S=5)


def run(settings, embedder, inputs, **kwargs):
    return Ingestor(settings, open_client(settings), lambda: embedder).run(inputs, **kwargs)


def stored(settings):
    col = open_collection(open_client(settings), settings)
    got = col.get(include=["metadatas", "documents"])
    return col, got["metadatas"], got["documents"]


def test_linked_pages_become_documents_that_remember_their_parent(settings, corpus, site, embedder):
    report = run(settings, embedder, [corpus], links=LinkOptions(depth=1))
    by_url = {link.url: link for link in report.links}
    guide, gone, secret = site.url("/guide"), site.url("/gone"), site.url("/secret")
    assert by_url[guide].status == "fetched" and by_url[guide].link_text in ("Vector guide", "guide")
    linking = {(corpus / n).resolve().as_posix() for n in ("extra.md", "retrieval.md")}
    assert {by_url[guide].parent, *by_url[guide].also_linked_from} == linking
    assert (by_url[gone].status, by_url[gone].reason) == ("dead", "HTTP 404")
    assert by_url[secret].status == "refused" and "private address 10.0.0.7" in by_url[secret].reason
    assert site.url("/deeper") not in by_url  # depth 1: the guide's own links are not followed

    broken = report.broken_links_by_document()
    parent = next(p for p in broken if p.endswith("retrieval.md"))
    assert {link.url for link in broken[parent]} == {gone, secret}
    assert guide in report.documents_new and report.chunks_per_doc[guide] >= 1

    _, metas, _ = stored(settings)
    page = [m for m in metas if m["source"] == guide]
    assert page and all(m["origin"] == "link" and m["url"] == guide for m in page)
    assert page[0]["parent"] == by_url[guide].parent and page[0]["link_text"] == by_url[guide].link_text
    assert page[0]["heading_path"].startswith("Vector databases")

    col = open_collection(open_client(settings), settings)
    top = Retriever(col, embedder, top_k=1).retrieve("Which index do vector databases use for nearest neighbours?")
    assert top[0].source == guide

    saved = json.loads((settings.data_dir / "last-ingest.json").read_text())
    assert saved["link_counts"] == {"fetched": 1, "cached": 0, "dead": 1, "refused": 1, "skipped": 0}
    assert set(saved["broken_links_by_document"][parent]) == {gone, secret}

    again = run(settings, embedder, [corpus], links=LinkOptions(depth=1))
    assert again.chunks_added == 0 and again.chunks_total == report.chunks_total
    assert guide in again.documents_unchanged
    assert {link.url: link.status for link in again.links}[guide] == "cached"
    assert len(site.hits("/guide")) == 1  # fresh in the HTTP cache: not even revalidated


def test_changed_unlinked_and_deeper_pages(make_settings, corpus, site, embedder):
    settings = make_settings(FETCH_ALLOW_LOOPBACK=True, FETCH_HOST_INTERVAL_S=0, LINK_REFRESH_HOURS=0)
    guide, deeper = site.url("/guide"), site.url("/deeper")
    first = run(settings, embedder, [corpus], links=LinkOptions(depth=2))
    deep = {link.url: link for link in first.links}[deeper]
    assert deep.status == "fetched" and deep.parent == guide and deep.depth == 2

    unchanged = run(settings, embedder, [corpus], links=LinkOptions(depth=2))
    assert site.hits("/guide")[-1].get("if-none-match") == '"g1"'  # revalidated, 304
    assert guide in unchanged.documents_unchanged and unchanged.chunks_added == 0

    site.routes["/guide"] = Page(GUIDE.replace("HNSW index", "IVF-PQ index"), etag='"g2"')
    changed = run(settings, embedder, [corpus], links=LinkOptions(depth=2))
    assert changed.documents_changed == [guide]
    _, metas, docs = stored(settings)
    texts = [d for d, m in zip(docs, metas, strict=True) if m["source"] == guide]
    assert texts and all("IVF-PQ" in t for t in texts if "index" in t)
    assert changed.chunks_total == first.chunks_total

    shallow = run(settings, embedder, [corpus], links=LinkOptions(depth=1))  # the deeper page is no longer wanted
    assert shallow.documents_removed == [deeper]

    for name in ("retrieval.md", "extra.md"):
        path = corpus / name
        path.write_text(path.read_text().replace(guide, "https://example.invalid/moved"))
    unlinked = run(settings, embedder, [corpus], links=LinkOptions(depth=1, max_pages=0))
    assert unlinked.documents_removed == [guide]
    _, metas, _ = stored(settings)
    assert {m["source"] for m in metas}.isdisjoint({guide, deeper})
    assert all(link.status == "skipped" and "--max-pages" in link.reason for link in unlinked.links)


def test_failed_fetch_keeps_the_earlier_copy_and_no_links_keeps_pages(settings, corpus, site, embedder):
    guide = site.url("/guide")
    first = run(settings, embedder, [corpus], links=LinkOptions(depth=1))
    quiet = run(settings, embedder, [corpus])  # links not followed: stored pages stay
    assert quiet.documents_removed == [] and quiet.chunks_total == first.chunks_total

    site.routes["/guide"] = Page("down", status=500, content_type="text/plain")
    stale = settings.model_copy(update={"link_refresh_hours": 0})
    failed = run(stale, embedder, [corpus], links=LinkOptions(depth=1))
    result = {link.url: link for link in failed.links}[guide]
    assert result.status == "dead" and result.reason == "HTTP 500" and result.kept_previous
    assert failed.documents_removed == [] and failed.chunks_total == first.chunks_total
    assert "earlier copy kept" in failed.summary()


def test_url_input_is_ingested_and_its_links_followed(settings, site, embedder):
    report = run(settings, embedder, [site.url("/guide")], links=LinkOptions(depth=1))
    assert report.documents_new == [site.url("/guide"), site.url("/deeper")]
    _, metas, _ = stored(settings)
    assert {m["origin"] for m in metas if m["source"] == site.url("/guide")} == {"url"}
    assert {m["parent"] for m in metas if m["source"] == site.url("/deeper")} == {site.url("/guide")}

    bad = run(settings, embedder, [site.url("/nothing-here")])
    assert [(s.source, s.reason) for s in bad.documents_skipped] == [(site.url("/nothing-here"), "dead: HTTP 404")]
    assert bad.chunks_total == report.chunks_total  # existing data kept


def test_cli_prints_the_report_and_json(tmp_path, monkeypatch, corpus, site, embedder):
    from ui.cli import app

    monkeypatch.chdir(tmp_path)
    for key, value in {
        "DATA_DIR": str(tmp_path / "data"),
        "FETCH_ALLOW_LOOPBACK": "true",
        "FETCH_HOST_INTERVAL_S": "0",
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(corpus), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["link_counts"]["fetched"] == 1 and data["link_counts"]["dead"] == 1
    assert any(k.endswith("retrieval.md") for k in data["broken_links_by_document"])
    text = runner.invoke(app, ["ingest", str(corpus), "--max-pages", "5"])
    assert text.exit_code == 0
    assert "links: 0 fetched, 1 cached, 1 dead, 1 refused" in text.output
    assert "broken links in notes/retrieval.md:" in text.output and "HTTP 404" in text.output
    offline = runner.invoke(app, ["ingest", str(corpus), "--no-links", "--json"])
    assert json.loads(offline.output)["links"] == []


def test_default_knowledge_ingest_fetches_links_only_when_asked(tmp_path, monkeypatch, corpus, site, embedder):
    from ui.cli import app

    monkeypatch.chdir(tmp_path)
    for key, value in {
        "DATA_DIR": str(tmp_path / "data"),
        "KNOWLEDGE_DIR": str(corpus),
        "FETCH_ALLOW_LOOPBACK": "true",
        "FETCH_HOST_INTERVAL_S": "0",
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    plain = json.loads(runner.invoke(app, ["ingest", "--json"]).output)  # what `make run` does
    assert plain["links_followed"] is False and plain["links"] == [] and site.requests == []
    asked = json.loads(runner.invoke(app, ["ingest", "--links", "--json"]).output)
    assert asked["links_followed"] and asked["link_counts"]["fetched"] == 1
    monkeypatch.setenv("KNOWLEDGE_LINKS", "true")
    setting = json.loads(runner.invoke(app, ["ingest", "--json"]).output)
    assert setting["links_followed"] and setting["link_counts"]["cached"] == 1


def test_offline_links_are_reported_not_checked_rather_than_dead(tmp_path, settings, embedder):
    folder = tmp_path / "roadmap"
    folder.mkdir()
    links = "\n".join(f"- [Course {i}](https://course-{i}.invalid/start)" for i in range(12))
    (folder / "courses.md").write_text(f"# Courses\n\nAdam and SGD are optimisers.\n\n{links}\n")
    offline = settings.model_copy(update={"fetch_connect_timeout_s": 1.0})
    progress: list[tuple[str, int, int]] = []
    report = run(offline, embedder, [folder], links=LinkOptions(depth=1), progress=lambda *a: progress.append(a))
    assert report.documents_new and report.chunks_total >= 1  # the text is ingested all the same
    assert len(report.links) == 12
    assert {(link.status, link.reason) for link in report.links} == {("skipped", OFFLINE_REASON)}
    assert report.broken_links_by_document() == {}
    summary = report.summary()
    assert "12 not checked" in summary and f"12 links not checked: {OFFLINE_REASON}" in summary
    assert "broken links" not in summary and len(summary.splitlines()) <= 6  # one line, not one per link
    assert ("fetch", 12, 12) in progress

    bad_url = run(offline, embedder, ["https://lonely.invalid/page"])
    assert bad_url.documents_skipped[0].reason.endswith("(is the network up?)")


def test_an_unresolvable_host_is_dead_when_the_network_answers(tmp_path, settings, site, embedder):
    folder = tmp_path / "roadmap"
    folder.mkdir()
    (folder / "mixed.md").write_text(
        f"# Mixed\n\nSee the [guide]({site.url('/guide')}) and the [lost site](https://lost.invalid/page).\n"
    )
    report = run(settings, embedder, [folder], links=LinkOptions(depth=1))
    by_url = {link.url: link for link in report.links}
    assert by_url[site.url("/guide")].status == "fetched"
    lost = by_url["https://lost.invalid/page"]
    assert lost.status == "dead" and "DNS lookup for lost.invalid failed" in lost.reason
    assert [link.url for links in report.broken_links_by_document().values() for link in links] == [lost.url]


def test_progress_is_reported_per_phase_with_counts(corpus, settings, site, embedder):
    seen: list[tuple[str, int, int]] = []
    run(settings, embedder, [corpus], links=LinkOptions(depth=1), progress=lambda *a: seen.append(a))
    phases = [p for p, _, _ in seen]
    assert phases.index("read") < phases.index("fetch") < phases.index("embed")
    for phase in ("read", "fetch", "embed"):
        counts = [(done, total) for p, done, total in seen if p == phase]
        assert counts[-1][0] == counts[-1][1] > 0  # ends complete
        assert [d for d, _ in counts] == sorted(d for d, _ in counts)  # never goes backwards


def test_ctrl_c_while_fetching_changes_nothing_and_frees_the_lock(settings, corpus, site, embedder):
    first = run(settings, embedder, [corpus])  # links not followed
    site.routes["/slow"] = Page(DEEPER, delay_s=1)
    (corpus / "slow.md").write_text(f"# Slow\n\nA [slow page]({site.url('/slow')}).\n")

    def interrupt(phase, done, total):
        if phase == "fetch" and done >= 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(settings, embedder, [corpus], links=LinkOptions(depth=1), progress=interrupt)
    col, metas, _ = stored(settings)
    assert col.count() == first.chunks_total and not any(m["source"].endswith("slow.md") for m in metas)
    again = run(settings, embedder, [corpus], links=LinkOptions(depth=1))  # the lock was released
    assert {link.url: link.status for link in again.links}[site.url("/guide")] in ("fetched", "cached")
    assert any(s.endswith("slow.md") for s in again.documents_new)
