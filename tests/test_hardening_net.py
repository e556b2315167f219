"""Network hardening: malformed URLs, credentials in URLs, the cache under the address policy, file URLs,
robots.txt by protego. Every fetch goes to a local site on 127.0.0.1; nothing leaves the machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.vectorstore.chroma import open_client, open_collection
from ingest.documents import discover
from ingest.netguard import MAX_URL_CHARS, check_url, has_credentials, normalize, strip_credentials
from ingest.pipeline import Ingestor, LinkOptions
from ingest.report import IngestReport, LinkResult
from tests.fixtures.ingest.site import Page, Site, html

ARTICLE = html("Gradient descent", "Gradient descent follows the negative gradient of the loss downhill. " * 5)
PASSWORD = "s3cret-Pa55"

MALFORMED = {
    "http://a..b/": "empty label",
    "http://300.1.1.1/": "300.1.1.1 is not a valid IP address",
    "http://0177.0.0.1/": "0177.0.0.1 is not a valid IP address",
    "http://2130706433/": "2130706433 is not a valid IP address",
    "http://0x7f.1/": "0x7f.1 is not a valid IP address",
    "http://xn--/": "malformed URL",
    "http://example.com:99999/": "malformed URL (Port out of range",
    "http://example.com:http/": "malformed URL",
    "http://example.com:0/": "port 0",
    "http:///no-host": "no host name",
    "http://[::1/": "malformed URL",
    "http://[::zz]/": "malformed URL",
    "http://exa mple.com/": "space or control character",
    "http://example.com/a b": "space or control character",
    "http://example.com/\x00x": "space or control character",
    "http://example.com/\x1b[31m": "space or control character",
    "http://ex%41mple.com/": "only letters, digits",
    "http://" + "a" * 64 + ".com/": "longer than 63",
    "http://example.com/" + "x" * MAX_URL_CHARS: f"longer than {MAX_URL_CHARS} characters",
}


@pytest.fixture
def site():
    server = Site().start()
    server.routes["/robots.txt"] = Page("User-agent: *\nAllow: /\n", content_type="text/plain")
    yield server
    server.stop()


def run(settings, embedder, inputs, **kwargs):
    return Ingestor(settings, open_client(settings), lambda: embedder).run(inputs, **kwargs)


def stored(settings):
    got = open_collection(open_client(settings), settings).get(include=["metadatas", "documents"])
    return got["metadatas"], got["documents"]


# --- 1. malformed URLs ---------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "why"), list(MALFORMED.items()), ids=lambda v: repr(v)[:40])
def test_a_malformed_url_is_a_dead_page_with_its_reason(crawl, url, why):
    assert why in (check_url(normalize(url)) or "")
    got = crawl().fetch(url)
    assert got.status == "dead" and got.reason.startswith("invalid URL: ") and why in got.reason
    assert not got.unreachable  # a bad URL says nothing about the network


@pytest.mark.parametrize("url", ["http://example.com/", "https://bücher.de/x?q=1", "http://[2606:4700::1111]:8080/"])
def test_well_formed_urls_pass_the_check(url):
    assert check_url(normalize(url)) is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)", "gopher://h/"])
def test_other_schemes_are_refused(crawl, url):
    got = crawl().fetch(url)
    assert got.status == "refused" and got.reason == f"not an http(s) URL: {url.split(':')[0]}"


@pytest.mark.parametrize(
    "target", ["http://a..b/x", "http://300.1.1.1/", "http://xn--/", "http://h:99999/", "http://[::1"]
)
def test_a_redirect_to_a_malformed_url_is_dead(site, crawl, target):
    site.routes["/hop"] = target
    got = crawl().fetch(site.url("/hop"))
    assert got.status == "dead" and got.reason.startswith("redirect to an invalid URL: ")


def test_malformed_links_are_dead_links_and_the_ingest_goes_on(tmp_path, make_settings, site, embedder):
    site.routes["/good"] = Page(ARTICLE)
    site.routes["/bounce"] = "http://a..b/x"
    bad = ["http://a..b/", "http://300.1.1.1/", "http://0177.0.0.1/", "http://xn--/", "http://example.com:99999/"]
    notes = tmp_path / "notes"
    notes.mkdir()
    links = "\n".join(f"- [bad {i}]({url})" for i, url in enumerate(bad))
    (notes / "links.md").write_text(
        f"# Links\n\nRead the [good page]({site.url('/good')}) and [this]({site.url('/bounce')}).\n\n{links}\n"
    )
    settings = make_settings(FETCH_ALLOW_LOOPBACK=True, FETCH_HOST_INTERVAL_S=0, FETCH_TIMEOUT_S=5)
    report = run(settings, embedder, [notes], links=LinkOptions(depth=1))
    by_url = {link.url: link for link in report.links}
    assert by_url[site.url("/good")].status == "fetched" and site.url("/good") in report.documents_new
    for url in bad:
        assert by_url[url].status == "dead" and by_url[url].reason.startswith("invalid URL: "), by_url[url]
    bounce = by_url[site.url("/bounce")]
    assert bounce.status == "dead" and "redirect to an invalid URL" in bounce.reason
    saved = json.loads((settings.data_dir / "last-ingest.json").read_text())
    assert saved["link_counts"]["dead"] == len(bad) + 1 and saved["link_counts"]["fetched"] == 1
    assert "broken links in" in report.summary() and "invalid URL" in report.summary()


def test_malformed_url_inputs_on_the_command_line_are_skipped_without_a_traceback(tmp_path, monkeypatch):
    from ui.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    inputs = ["http://300.1.1.1/", "http://0177.0.0.1/", "http://a..b/", "http://xn--/", "http://[::1", "http:///x"]
    result = CliRunner().invoke(app, ["ingest", *inputs, "--no-links"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    for url in inputs:
        assert f"skipped {normalize(url)}: dead: invalid URL: " in result.output


def test_the_summary_escapes_control_characters_and_cuts_long_urls():
    link = LinkResult(url="http://example.com/\x1b[31mred" + "x" * 500, status="dead", reason="bad\x07", parent="a.md")
    text = IngestReport(links=[link]).summary()
    assert "\x1b" not in text and "\x07" not in text and "\\x1b[31mred" in text
    assert max(len(line) for line in text.splitlines()) < 300


def test_a_linked_page_with_a_malformed_link_is_read_and_the_bad_link_dropped(make_settings, site, embedder, tmp_path):
    body = "<p>Momentum smooths the steps of gradient descent across many iterations.</p>" * 3
    site.routes["/odd"] = Page(
        f"<html><body><article><h1>Odd</h1>{body}<a href='http://[::1/x'>x</a></article></body></html>"
    )
    site.routes["/fine"] = Page(ARTICLE)
    (tmp_path / "n.md").write_text(f"# N\n\nSee [odd]({site.url('/odd')}) and [fine]({site.url('/fine')}).\n")
    settings = make_settings(FETCH_ALLOW_LOOPBACK=True, FETCH_HOST_INTERVAL_S=0, FETCH_TIMEOUT_S=5)
    report = run(settings, embedder, [tmp_path / "n.md"], links=LinkOptions(depth=1))
    by_url = {link.url: link for link in report.links}
    assert by_url[site.url("/fine")].status == "fetched"
    assert by_url[site.url("/odd")].status == "fetched"
    assert not any("[::1" in url for url in by_url)


def test_a_document_linking_an_unclosed_ipv6_bracket_is_still_read(tmp_path):
    from ingest.documents import read_document

    note = tmp_path / "n.md"
    note.write_text("# N\n\nSee [x](http://[::1/) and <http://[fe80::1>.\n")
    assert read_document(note, "sig", 1_000_000).source  # type: ignore[union-attr]


# --- 2. credentials in URLs ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "clean"),
    [
        (f"http://user:{PASSWORD}@Example.com/a#top", "http://example.com/a"),
        (f"https://{PASSWORD}@example.com", "https://example.com/"),
        (f"http://u:p@ss:{PASSWORD}@example.com:8080/x?q=1", "http://example.com:8080/x?q=1"),
        (f"http://user:{PASSWORD}@[::1/", "http://[::1/"),  # malformed: still no credentials
        (f"http://user:{PASSWORD}@/x", "http:///x"),
    ],
)
def test_normalize_drops_credentials(url, clean):
    assert has_credentials(url)
    assert normalize(url) == clean and not has_credentials(clean)


def test_credentials_are_stripped_in_link_text():
    text = f"see http://me:{PASSWORD}@host/x, http://u:p@ss:{PASSWORD}@h2 and ftp://a@b/ (mail a@b.org)"
    assert strip_credentials(text) == "see http://host/x, http://h2 and ftp://b/ (mail a@b.org)"


def test_credentials_in_links_and_inputs_are_never_sent_stored_or_reported(tmp_path, make_settings, site, embedder):
    site.routes["/guide"] = Page(html("Guide", "Regularisation keeps weights small so models generalise. " * 4))
    site.routes["/page"] = Page(ARTICLE)
    secret_link = site.url("/guide").replace("http://", f"http://learner:{PASSWORD}@")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "secrets.md").write_text(f"# Notes\n\nRead <{secret_link}> first.\n")
    settings = make_settings(FETCH_ALLOW_LOOPBACK=True, FETCH_HOST_INTERVAL_S=0, FETCH_TIMEOUT_S=5)
    secret_input = site.url("/page").replace("http://", f"http://learner:{PASSWORD}@")
    report = run(settings, embedder, [notes, secret_input], links=LinkOptions(depth=1))

    guide = {link.url: link for link in report.links}[site.url("/guide")]
    assert guide.status == "fetched" and guide.credentials_removed and PASSWORD not in guide.link_text
    assert site.url("/page") in report.documents_new
    assert all("authorization" not in headers for _, headers, _ in site.requests)
    assert "user name and password removed from the link" in report.summary()
    assert report.credentials_removed == [site.url("/page")]  # the input, cleaned, says so too
    assert PASSWORD not in report.summary() and PASSWORD not in json.dumps(report.to_json())

    metas, docs = stored(settings)
    assert PASSWORD not in json.dumps(metas)
    web = [d for d, m in zip(docs, metas, strict=True) if m["origin"] in ("url", "link")]
    assert web and not any(PASSWORD in d for d in web)
    assert PASSWORD not in (settings.data_dir / "last-ingest.json").read_text()
    cache_files = [p for p in settings.http_cache_dir.rglob("*") if p.is_file()]
    assert cache_files and not any(PASSWORD.encode() in p.read_bytes() for p in cache_files)
    assert not any(b"learner" in p.read_bytes() for p in cache_files)


def test_a_redirect_carrying_credentials_sends_none(site, crawl):
    site.routes["/from"] = site.url("/to").replace("http://", f"http://u:{PASSWORD}@")
    site.routes["/to"] = Page(ARTICLE)
    got = crawl().fetch(site.url("/from"))
    assert got.status == "fetched" and got.final_url == site.url("/to")
    assert "authorization" not in site.hits("/to")[0]


# --- 3. the cache under the address policy -------------------------------------------------------
def test_a_cached_loopback_page_is_refused_once_loopback_is_off(site, crawl):
    site.routes["/a"] = Page(ARTICLE)
    assert crawl().fetch(site.url("/a")).status == "fetched"
    assert crawl().fetch(site.url("/a")).status == "cached"
    off = crawl(FETCH_ALLOW_LOOPBACK=False).fetch(site.url("/a"))
    assert off.status == "refused" and "loopback address 127.0.0.1" in off.reason and off.body == b""
    by_name = crawl(FETCH_ALLOW_LOOPBACK=False).fetch(f"http://localhost:{site.port}/a")
    assert by_name.status == "refused" and "loopback address" in by_name.reason
    assert len(site.hits("/a")) == 1


def test_a_cached_page_that_redirected_to_loopback_is_refused(site, crawl):
    site.routes["/a"] = Page(ARTICLE)
    crawler = crawl()
    assert crawler.fetch(site.url("/a")).status == "fetched"
    # as if a public page had redirected there: the entry's final URL is what the policy must see
    entry, body = crawler.cache.get(site.url("/a"))  # type: ignore[misc]
    public = "http://93.184.216.34/a"
    crawler.cache.put(entry.model_copy(update={"url": public}), body)
    got = crawl(FETCH_ALLOW_LOOPBACK=False).fetch(public)
    assert got.status == "refused" and got.reason.startswith("redirect to loopback address 127.0.0.1")


def test_a_cached_page_stays_usable_offline_when_the_policy_allows_it(site, crawl):
    site.routes["/a"] = Page(ARTICLE)
    assert crawl().fetch(site.url("/a")).status == "fetched"
    site.stop()
    crawler = crawl(LINK_REFRESH_HOURS=0, FETCH_CONNECT_TIMEOUT_S=1)
    crawler.unreachable = 99  # the run has given up on the network: cached copies are the best we have
    page = crawler.fetch(site.url("/a"))
    assert page.status == "cached" and b"Gradient" in page.body


# --- 4. file URLs ---------------------------------------------------------------------------------
def test_a_file_url_input_is_refused_with_a_clear_reason():
    files, skipped = discover([Path("file:///etc/passwd")])
    assert files == []
    assert [s.reason for s in skipped] == ["file:// URLs are not accepted: give the path instead (/etc/passwd)"]


# --- 5. robots.txt through protego ----------------------------------------------------------------
def test_robots_wildcards_and_the_longest_match(site, crawl):
    site.routes["/robots.txt"] = Page(
        "User-agent: *\nDisallow: /*.pdf$\nDisallow: /private\nAllow: /private/open\n", content_type="text/plain"
    )
    for path in ("/notes.pdf", "/notes.pdf?x=1", "/private/open/a", "/private/closed"):
        site.routes[path] = Page(ARTICLE)
    crawler = crawl()
    assert crawler.fetch(site.url("/notes.pdf")).reason == "blocked by robots.txt"
    assert crawler.fetch(site.url("/notes.pdf?x=1")).status == "fetched"  # "$": the URL must end there
    assert crawler.fetch(site.url("/private/open/a")).status == "fetched"  # the longer Allow wins
    assert crawler.fetch(site.url("/private/closed")).reason == "blocked by robots.txt"
    assert site.hits("/notes.pdf") == [] and site.hits("/private/closed") == []


def test_robots_group_for_our_agent_and_its_crawl_delay(site, crawl):
    site.routes["/robots.txt"] = Page(
        "User-agent: *\nDisallow: /\n\nUser-agent: roadmap-tutor\nDisallow: /drafts\nCrawl-delay: 7\n",
        content_type="text/plain",
    )
    site.routes["/page"] = Page(ARTICLE)
    crawler = crawl()
    assert crawler.fetch(site.url("/page")).status == "fetched"
    assert crawler.fetch(site.url("/drafts/x")).reason == "blocked by robots.txt"
    assert crawler.pacer._extra["127.0.0.1"] == 7
