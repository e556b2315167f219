"""Follow the links found in ingested documents: fetch, extract, and turn them into documents.

Breadth first, ``depth`` levels (1: pages the user's documents link; 2: also the pages those link),
at most ``max_pages`` fetches, ``FETCH_CONCURRENCY`` at a time (the crawler keeps each host polite).
Every link ends with a ``LinkResult`` naming the document(s) that link it. A link's URL is normalised
first (``netguard.normalize``): credentials in it are dropped, never sent, stored or reported, and the
result says they were removed; a malformed URL ends as a dead link with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from assistant.callbacks import Progress
from ingest.crawl import OFFLINE_REASON, Crawler, Fetched, normalize
from ingest.documents import Skipped, SourceDoc, page_document
from ingest.netguard import has_credentials, strip_credentials
from ingest.report import LinkResult


@dataclass
class LinkHarvest:
    docs: list[SourceDoc] = field(default_factory=list)
    results: list[LinkResult] = field(default_factory=list)
    wanted: set[str] = field(default_factory=set)  # every URL the documents link (within depth)


def follow_links(
    roots: list[SourceDoc],
    crawler: Crawler,
    *,
    depth: int,
    max_pages: int,
    concurrency: int,
    signature: str,
    max_chars: int,
    progress: Progress,
) -> LinkHarvest:
    out = LinkHarvest()
    seen = {normalize(d.source) for d in roots if d.origin == "url"}
    level_docs: list[SourceDoc] = roots
    budget = max_pages
    done = total = 0
    unreachable: list[LinkResult] = []
    for level in range(1, depth + 1):
        todo: dict[str, LinkResult] = {}
        for doc in level_docs:
            for link in doc.links:
                url = normalize(link.url)
                if url in seen and url not in todo:
                    continue
                if url in todo:
                    todo[url].credentials_removed |= has_credentials(link.url)
                    if doc.source != todo[url].parent and doc.source not in todo[url].also_linked_from:
                        todo[url].also_linked_from.append(doc.source)
                    continue
                seen.add(url)
                todo[url] = LinkResult(
                    url=url,
                    status="skipped",
                    parent=doc.source,
                    link_text=strip_credentials(link.text),
                    depth=level,
                    credentials_removed=has_credentials(link.url),
                )
        out.wanted |= set(todo)
        fetch = list(todo)[: max(budget, 0)]
        for url in list(todo)[len(fetch) :]:
            todo[url].reason = f"over the limit of {max_pages} pages per run (--max-pages / LINK_MAX_PAGES)"
        budget -= len(fetch)
        total += len(fetch)
        level_docs = []
        if fetch:
            progress("fetch", done, total)
        for page in _fetch_all(crawler, fetch, concurrency):
            done += 1
            progress("fetch", done, total)
            result = todo[page.url]
            result.status, result.reason, result.final_url = page.status, page.reason, page.final_url
            if page.unreachable:
                unreachable.append(result)
            if not page.ok:
                continue
            got = _page_document(page, signature, result, max_chars)
            if isinstance(got, Skipped):
                result.status, result.reason = "refused", got.reason
                continue
            result.truncated = got.truncated
            out.docs.append(got)
            level_docs.append(got)
        out.results.extend(todo.values())
    if crawler.network_down():  # offline: a failed lookup says nothing about the page, so it is not "dead"
        for result in unreachable:
            result.status, result.reason = "skipped", OFFLINE_REASON
    return out


def _page_document(page: Fetched, signature: str, result: LinkResult, max_chars: int) -> SourceDoc | Skipped:
    """The fetched page as a document; a page the extractor cannot read is skipped, never a crash."""
    try:
        return page_document(
            page, signature, origin="link", parent=result.parent, link_text=result.link_text, max_chars=max_chars
        )
    except ValueError as exc:  # e.g. urllib on a link with an unclosed IPv6 bracket in the page
        return Skipped(page.url, f"unreadable page ({type(exc).__name__}: {str(exc)[:80]})")


def _fetch_all(crawler: Crawler, urls: list[str], concurrency: int) -> Iterator[Fetched]:
    """Fetch ``urls`` in parallel, yielding each page as it completes; Ctrl-C stops the workers."""
    if not urls:
        return
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(urls)), thread_name_prefix="fetch")
    clean = False
    try:
        pending: set[Future[Fetched]] = {pool.submit(crawler.fetch, url) for url in urls}
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
        clean = True
    finally:
        if not clean:  # interrupted or failed: tell running fetches to stop, drop queued ones
            crawler.stop.set()
        pool.shutdown(wait=clean, cancel_futures=not clean)
