"""Fetch one web page, safely and politely.

Every URL is normalised (no fragment, no credentials) and checked first: a malformed one is a dead
page with the reason, never an exception. Every request goes through
:class:`~ingest.netguard.GuardedTransport` (no private, loopback, link-local or metadata addresses,
checked after DNS and on every redirect hop), with a connect timeout and a total time limit, a size
cap, a content-type allow-list, at most ``FETCH_MAX_REDIRECTS`` redirects followed by hand (each hop's
URL, scheme and robots.txt are checked), robots.txt honoured (parsed by protego: ``*`` and ``$``
patterns, the longest matching rule wins; a missing robots.txt allows everything, a failing one blocks
the host), a minimum interval between requests to one host (robots' crawl-delay when longer), and an
on-disk cache revalidated with ETag / Last-Modified. A page served from the cache is held to the
current address policy too (turning ``FETCH_ALLOW_LOOPBACK`` off also stops cached loopback pages).
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from assistant.settings import Settings
from ingest.fetch_cache import CacheEntry, FetchCache
from ingest.netguard import (
    GuardedTransport,
    InvalidHost,
    LookupFailed,
    RefusedAddress,
    check_url,
    host_refusal,
    is_web_url,
    normalize,
)

__all__ = ["OFFLINE_REASON", "Crawler", "Fetched", "is_web_url", "normalize"]

USER_AGENT = "roadmap-tutor/0.1 (personal study assistant; fetches pages its user linked)"
ROBOTS_AGENT = "roadmap-tutor"  # the product token robots.txt groups are matched against (RFC 9309)
ALLOWED_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "text/plain",
    "text/markdown",
    "text/x-markdown",
    "application/pdf",
}
REDIRECTS = {301, 302, 303, 307, 308}
_SCHEME = re.compile(r"\s*([a-z][a-z0-9+.-]{0,19}):", re.IGNORECASE)
MAX_CRAWL_DELAY_S = 30.0
ROBOTS_MAX_BYTES = 512 * 1024
UNREACHABLE_BEFORE_OFFLINE = 8

Status = Literal["fetched", "cached", "dead", "refused", "skipped"]
OFFLINE_REASON = "the network looks unreachable (no host answered during this run)"


@dataclass
class Fetched:
    url: str
    status: Status
    reason: str = ""
    final_url: str = ""
    http_status: int | None = None
    content_type: str = ""
    body: bytes = b""
    unreachable: bool = False  # DNS or connect failed: says nothing about the page if the network is down

    @property
    def ok(self) -> bool:
        return self.status in ("fetched", "cached")


class HostPacer:
    """At least ``interval`` seconds between request starts to one host, across threads."""

    def __init__(self, interval: float, stop: threading.Event) -> None:
        self.interval = interval
        self.stop = stop
        self._next: dict[str, float] = {}
        self._extra: dict[str, float] = {}
        self._lock = threading.Lock()

    def slow_down(self, host: str, seconds: float) -> None:
        with self._lock:
            self._extra[host] = min(seconds, MAX_CRAWL_DELAY_S)

    def wait(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + max(self.interval, self._extra.get(host, 0.0))
        if start > now:
            self.stop.wait(start - now)


class Crawler:
    def __init__(self, settings: Settings, *, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.max_bytes = int(settings.fetch_max_mb * 1024 * 1024)
        self.cache = FetchCache(settings.http_cache_dir)
        self.pacer = HostPacer(settings.fetch_host_interval_s, self.stop)
        # Requests are built by the client (headers, timeouts) and sent by the transport alone: redirects are
        # followed by hand, and the client would parse a Location header first and raise on a malformed one.
        self.transport = GuardedTransport(allow_loopback=settings.fetch_allow_loopback)
        self.client = httpx.Client(
            transport=self.transport,
            timeout=httpx.Timeout(settings.fetch_timeout_s, connect=settings.fetch_connect_timeout_s),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5"},
        )
        self._robots: dict[str, Protego | Fetched] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._host_policy: dict[str, str | None] = {}  # origin -> why refused, for pages served from the cache
        self._lock = threading.Lock()
        self.responses = 0  # any HTTP answer at all: the network works
        self.unreachable = 0  # DNS or connect failures

    def close(self) -> None:
        self.client.close()

    def looks_offline(self) -> bool:
        """No server has answered and several hosts failed DNS or connect: stop trying for this run."""
        return self.responses == 0 and self.unreachable >= UNREACHABLE_BEFORE_OFFLINE

    def network_down(self) -> bool:
        """At the end of a run: hosts failed DNS or connect and none answered at all (offline, or no DNS)."""
        return self.responses == 0 and self.unreachable > 0

    # --- pages ------------------------------------------------------------------------------
    def fetch(self, url: str) -> Fetched:
        """The page at ``url``; never raises (a malformed URL is a dead page with the reason)."""
        url = normalize(url)
        if not is_web_url(url):
            return Fetched(url, "refused", f"not an http(s) URL: {_scheme(url)}")
        problem = check_url(url)
        if problem:
            return Fetched(url, "dead", f"invalid URL: {problem}")
        cached = self.cache.get(url)
        refresh_s = self.settings.link_refresh_hours * 3600
        if cached and (cached[0].age_s() < refresh_s or self.looks_offline()):
            entry, body = cached  # fresh enough, or the best we can do while the network is down
            return self._policy_refusal(url, entry) or Fetched(
                url, "cached", "", entry.final_url, 200, entry.content_type, body
            )
        if self.looks_offline():
            return Fetched(url, "skipped", OFFLINE_REASON, unreachable=True)
        return self._follow(url, cached, robots=True)

    def _follow(self, url: str, cached: tuple[CacheEntry, bytes] | None, *, robots: bool) -> Fetched:
        current = url
        for hop in range(self.settings.fetch_max_redirects + 1):
            where = "redirect to " if hop else ""
            try:
                if robots:
                    blocked = self._robots_block(current)
                    if blocked is not None:
                        return blocked if blocked.url == url else _as(url, blocked, where)
                host = urlsplit(current).hostname or ""
                self.pacer.wait(host)
                if self.stop.is_set():
                    return Fetched(url, "dead", "interrupted")
                deadline = time.monotonic() + self.settings.fetch_timeout_s
                headers = cached[0].validators() if cached and hop == 0 else {}
                request = self.client.build_request("GET", current, headers=headers)
                with closing(self.transport.handle_request(request)) as resp:
                    with self._lock:
                        self.responses += 1
                    if resp.status_code in REDIRECTS and "location" in resp.headers:
                        target = _join(current, resp.headers["location"])
                        if not is_web_url(target):
                            return Fetched(url, "refused", f"redirect to a non-http(s) URL ({_scheme(target)})")
                        current = normalize(target)
                        problem = check_url(current)
                        if problem:
                            return Fetched(url, "dead", f"redirect to an invalid URL: {problem}")
                        continue
                    if resp.status_code == 304 and cached and hop == 0:
                        entry, body = cached
                        refused = self._policy_refusal(url, entry)
                        if refused:
                            return refused
                        self.cache.touch(entry)
                        return Fetched(url, "cached", "", entry.final_url, 304, entry.content_type, body)
                    return self._read(url, current, resp, deadline, robots)
            except RefusedAddress as exc:
                return Fetched(url, "refused", f"{where}{_refused(exc)}")
            except (InvalidHost, httpx.InvalidURL, UnicodeError) as exc:  # what check_url missed: still no crash
                return Fetched(url, "dead", f"{where}invalid URL: {_short(exc)}")
            except LookupFailed as exc:
                self._count_unreachable()
                return Fetched(url, "dead", str(exc), unreachable=True)
            except httpx.ConnectTimeout:
                self._count_unreachable()
                return Fetched(url, "dead", f"{where}connection timed out", unreachable=True)
            except httpx.ConnectError as exc:
                self._count_unreachable()
                return Fetched(url, "dead", f"{where}connection failed ({_short(exc)})", unreachable=True)
            except httpx.TimeoutException:
                return Fetched(url, "dead", f"timed out after {self.settings.fetch_timeout_s:g} s")
            except httpx.HTTPError as exc:
                return Fetched(url, "dead", f"{type(exc).__name__}: {_short(exc)}")
        return Fetched(url, "dead", f"more than {self.settings.fetch_max_redirects} redirects")

    def _read(self, url: str, final: str, resp: httpx.Response, deadline: float, page: bool) -> Fetched:
        code = resp.status_code
        if not 200 <= code < 300:
            return Fetched(url, "dead", f"HTTP {code}", final, code)
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if page and ctype not in ALLOWED_TYPES:
            return Fetched(url, "refused", f"content type {ctype or 'missing'} is not text, HTML or PDF", final, code)
        cap = self.max_bytes if page else ROBOTS_MAX_BYTES
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return Fetched(url, "refused", f"larger than {_mib(cap)} ({_mib(int(declared))})", final, code)
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > cap:
                return Fetched(url, "refused", f"larger than {_mib(cap)}", final, code)
            if time.monotonic() > deadline:
                return Fetched(url, "dead", f"timed out after {self.settings.fetch_timeout_s:g} s", final, code)
            if self.stop.is_set():
                return Fetched(url, "dead", "interrupted", final, code)
            chunks.append(chunk)
        body = b"".join(chunks)
        if code == 200:
            entry = CacheEntry(
                url=url,
                final_url=final,
                content_type=ctype,
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
                stored_at=time.time(),
            )
            self.cache.put(entry, body)
        return Fetched(url, "fetched", "", final, code, ctype, body)

    def _count_unreachable(self) -> None:
        with self._lock:
            self.unreachable += 1

    def _policy_refusal(self, url: str, entry: CacheEntry) -> Fetched | None:
        """A refusal when the address policy in force now refuses a host the cached page came from."""
        for where, address in (("", url), ("redirect to ", entry.final_url)):
            if not address:
                continue
            parts = urlsplit(address)
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in self._host_policy:  # once per host and run: a DNS lookup, no connection
                refused = host_refusal(
                    address, self.settings.fetch_connect_timeout_s, allow_loopback=self.settings.fetch_allow_loopback
                )
                self._host_policy[origin] = _refused(refused) if refused else None
            why = self._host_policy[origin]
            if why is not None:
                return Fetched(url, "refused", f"{where}{why} (cached copy not used)")
        return None

    # --- robots.txt ---------------------------------------------------------------------------
    def _robots_block(self, url: str) -> Fetched | None:
        """A refusal when robots.txt disallows ``url`` (or a failure when robots.txt cannot be had)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        with origin_lock:
            if origin not in self._robots:
                self._robots[origin] = self._load_robots(origin, parts.hostname or "")
        rules = self._robots[origin]
        if isinstance(rules, Fetched):
            return rules
        if not rules.can_fetch(url, ROBOTS_AGENT):
            return Fetched(url, "refused", "blocked by robots.txt")
        return None

    def _load_robots(self, origin: str, host: str) -> Protego | Fetched:
        robots_url = origin + "/robots.txt"
        cached = self.cache.get(robots_url)
        if cached and cached[0].age_s() < self.settings.link_refresh_hours * 3600:
            got = Fetched(robots_url, "cached", "", cached[0].final_url, 200, cached[0].content_type, cached[1])
        else:
            got = self._follow(robots_url, cached, robots=False)
        if got.ok:
            parser = Protego.parse(got.body.decode("utf-8", errors="replace"))
        elif got.http_status is not None and 400 <= got.http_status < 500:
            parser = Protego.parse("")  # no robots.txt: everything is allowed
        elif got.http_status is not None:
            return Fetched(robots_url, "refused", f"robots.txt unavailable (HTTP {got.http_status}): host skipped")
        else:
            return got  # the host is unreachable or refused: the same answer holds for its pages
        delay = parser.crawl_delay(ROBOTS_AGENT)
        if delay:
            self.pacer.slow_down(host, float(delay))
        return parser


def _as(url: str, failure: Fetched, where: str) -> Fetched:
    return Fetched(
        url,
        failure.status,
        f"{where}{failure.reason}",
        failure.final_url,
        failure.http_status,
        unreachable=failure.unreachable,
    )


def _join(base: str, location: str) -> str:
    """The redirect target; a Location too malformed to join is kept as it is (check_url names the fault)."""
    try:
        return urljoin(base, location.strip())
    except ValueError:
        return location


def _scheme(url: str) -> str:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else "no scheme"


def _refused(exc: RefusedAddress) -> str:
    return f"{exc.why} {exc.address} ({exc.host})" if exc.address else f"{exc.why} ({exc.host})"


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:120]
