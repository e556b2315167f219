"""The safe fetcher against a real local web site: caps, redirects, robots.txt, address guard, cache."""

from __future__ import annotations

import itertools

import pytest

from ingest.crawl import OFFLINE_REASON, UNREACHABLE_BEFORE_OFFLINE
from ingest.netguard import classify
from tests.fixtures.ingest.site import Page, Site, html

ARTICLE = html("Gradient descent", "Gradient descent follows the negative gradient of the loss downhill. " * 5)


@pytest.fixture
def site():
    server = Site().start()
    server.routes["/robots.txt"] = Page("User-agent: *\nDisallow: /private\n", content_type="text/plain")
    yield server
    server.stop()


def test_page_is_fetched_then_served_from_the_cache(site, crawl):
    site.routes["/a"] = Page(ARTICLE)
    first = crawl().fetch(site.url("/a"))
    assert first.status == "fetched" and b"Gradient descent" in first.body and first.content_type == "text/html"
    again = crawl().fetch(site.url("/a#section"))  # a new run; the fragment does not make a new page
    assert again.status == "cached" and again.body == first.body
    assert len(site.hits("/a")) == 1


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_stale_entry_is_revalidated_and_a_304_keeps_the_body(site, crawl, validator):
    stamp = '"v1"' if validator == "etag" else "Wed, 01 Jan 2025 00:00:00 GMT"
    site.routes["/a"] = Page(ARTICLE, **{validator: stamp})
    assert crawl(LINK_REFRESH_HOURS=0).fetch(site.url("/a")).status == "fetched"
    again = crawl(LINK_REFRESH_HOURS=0).fetch(site.url("/a"))
    assert again.status == "cached" and again.http_status == 304 and b"Gradient" in again.body
    sent = site.hits("/a")[-1]
    assert sent.get("if-none-match" if validator == "etag" else "if-modified-since") == stamp
    # the page changes: a new validator, a new body
    site.routes["/a"] = Page(html("Changed", "Completely new text about optimisers. " * 5), etag='"v2"')
    changed = crawl(LINK_REFRESH_HOURS=0).fetch(site.url("/a"))
    assert changed.status == "fetched" and b"optimisers" in changed.body


def test_redirects_are_followed_up_to_the_limit(site, crawl):
    site.routes.update({"/old": "/mid", "/mid": "/new", "/new": Page(ARTICLE)})
    got = crawl().fetch(site.url("/old"))
    assert got.status == "fetched" and got.final_url == site.url("/new")
    too_many = crawl(FETCH_MAX_REDIRECTS=1, LINK_REFRESH_HOURS=0).fetch(site.url("/old"))
    assert too_many.status == "dead" and "more than 1 redirects" in too_many.reason


def test_missing_page_is_dead(site, crawl):
    got = crawl().fetch(site.url("/gone"))
    assert got.status == "dead" and got.reason == "HTTP 404"


def test_slow_response_times_out(site, crawl):
    site.routes["/slow"] = Page(ARTICLE, delay_s=3)
    got = crawl(FETCH_TIMEOUT_S=0.5).fetch(site.url("/slow"))
    assert got.status == "dead" and "timed out" in got.reason


def test_slow_dripping_body_hits_the_total_time_limit(site, crawl):
    site.routes["/drip"] = Page("x" * 4000, content_type="text/plain", drip_s=0.1)
    got = crawl(FETCH_TIMEOUT_S=0.8).fetch(site.url("/drip"))
    assert got.status == "dead" and "timed out" in got.reason


@pytest.mark.parametrize("send_length", [True, False])
def test_oversized_body_is_refused(site, crawl, send_length):
    site.routes["/big"] = Page("<p>" + "x" * 50_000 + "</p>", send_length=send_length)
    got = crawl(FETCH_MAX_MB=0.01).fetch(site.url("/big"))
    assert got.status == "refused" and "larger than 10 KiB" in got.reason
    assert crawl(FETCH_MAX_MB=0.01).cache.get(site.url("/big")) is None


def test_content_type_outside_the_allow_list_is_refused(site, crawl):
    site.routes["/pic"] = Page(b"\x89PNG....", content_type="image/png")
    got = crawl().fetch(site.url("/pic"))
    assert got.status == "refused" and "image/png" in got.reason


def test_robots_txt_is_honoured(site, crawl):
    site.routes["/private/notes"] = Page(ARTICLE)
    site.routes["/public"] = Page(ARTICLE)
    crawler = crawl()
    blocked = crawler.fetch(site.url("/private/notes"))
    assert blocked.status == "refused" and blocked.reason == "blocked by robots.txt"
    assert site.hits("/private/notes") == []
    assert crawler.fetch(site.url("/public")).status == "fetched"
    assert len(site.hits("/robots.txt")) == 1  # once per host per run


def test_missing_robots_allows_and_failing_robots_blocks(site, crawl):
    site.routes["/page"] = Page(ARTICLE)
    del site.routes["/robots.txt"]
    assert crawl().fetch(site.url("/page")).status == "fetched"
    site.routes["/robots.txt"] = Page("oops", status=503, content_type="text/plain")
    got = crawl(LINK_REFRESH_HOURS=0).fetch(site.url("/page"))
    assert got.status == "refused" and "robots.txt unavailable (HTTP 503)" in got.reason


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://10.20.30.40/admin", "private address 10.20.30.40"),
        ("http://169.254.169.254/latest/meta-data/", "cloud-metadata address 169.254.169.254"),
        ("http://[fe80::1]/", "link-local address fe80::1"),
    ],
)
def test_redirect_to_a_private_address_is_refused(site, crawl, target, why):
    site.routes["/innocent"] = target
    got = crawl().fetch(site.url("/innocent"))
    assert got.status == "refused" and got.reason.startswith(f"redirect to {why}")


def test_loopback_is_refused_unless_allowed(site, crawl):
    site.routes["/a"] = Page(ARTICLE)
    got = crawl(FETCH_ALLOW_LOOPBACK=False).fetch(site.url("/a"))
    assert got.status == "refused" and "loopback address 127.0.0.1" in got.reason
    by_name = crawl(FETCH_ALLOW_LOOPBACK=False).fetch(f"http://localhost:{site.port}/a")
    assert by_name.status == "refused" and "loopback address" in by_name.reason
    assert site.hits("/a") == []  # refused before connecting


def test_non_web_schemes_are_refused(crawl):
    assert crawl().fetch("file:///etc/passwd").status == "refused"
    assert crawl().fetch("ftp://example.com/x").status == "refused"


@pytest.mark.parametrize(
    ("address", "loopback_ok", "why"),
    [
        ("8.8.8.8", False, None),
        ("2606:4700::1111", False, None),
        ("127.0.0.1", False, "loopback address"),
        ("127.0.0.1", True, None),
        ("::1", False, "loopback address"),
        ("10.0.0.1", True, "private address"),
        ("192.168.1.5", False, "private address"),
        ("172.16.0.1", False, "private address"),
        ("169.254.169.254", True, "cloud-metadata address"),
        ("169.254.1.1", False, "link-local address"),
        ("100.100.100.200", False, "non-public address"),  # carrier-grade NAT (Alibaba metadata)
        ("::ffff:10.0.0.1", False, "private address"),
        ("fd00:ec2::254", False, "cloud-metadata address"),
        ("0.0.0.0", False, "private address"),
        ("224.0.0.1", False, "non-public address"),
    ],
)
def test_address_policy(address, loopback_ok, why):
    assert classify(address, allow_loopback=loopback_ok) == why


def test_requests_to_one_host_are_spaced(site, crawl):
    for i in range(3):
        site.routes[f"/p{i}"] = Page(ARTICLE)
    crawler = crawl(FETCH_HOST_INTERVAL_S=0.3)
    for i in range(3):
        assert crawler.fetch(site.url(f"/p{i}")).status == "fetched"
    starts = [t for path, _, t in site.requests if path.startswith("/p")]
    assert len(starts) == 3 and all(b - a >= 0.25 for a, b in itertools.pairwise(starts))


def test_unresolvable_hosts_are_unreachable_and_the_run_stops_trying_when_offline(crawl):
    crawler = crawl(FETCH_CONNECT_TIMEOUT_S=1)
    assert not crawler.network_down()
    results = [crawler.fetch(f"http://host-{i}.invalid/page") for i in range(UNREACHABLE_BEFORE_OFFLINE + 2)]
    assert all(r.status == "dead" and "DNS lookup" in r.reason for r in results[:UNREACHABLE_BEFORE_OFFLINE])
    assert [r.status for r in results[UNREACHABLE_BEFORE_OFFLINE:]] == ["skipped", "skipped"]
    assert results[-1].reason == OFFLINE_REASON
    assert all(r.unreachable for r in results) and crawler.network_down()


def test_a_host_that_answers_means_the_network_is_up(site, crawl):
    crawler = crawl(FETCH_CONNECT_TIMEOUT_S=1)
    assert crawler.fetch(site.url("/gone")).status == "dead"  # an HTTP answer, even a 404
    lookup = crawler.fetch("http://host-0.invalid/page")
    assert lookup.status == "dead" and lookup.unreachable and not crawler.network_down()
