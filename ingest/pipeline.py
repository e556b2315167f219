"""Incremental ingestion into Chroma: only new or changed documents are embedded.

Each chunk carries its document's content hash. A run compares the hashes of the inputs with those
in the collection: unchanged documents cost nothing, a changed document's new chunks are written
before its old ones are deleted (a crash leaves the old version queryable), and documents that
disappeared from an ingested folder are removed, with the pages they linked. ``--rebuild`` fills a
staging collection and swaps it in only when complete. One writer at a time (a file lock); a store
holding fewer chunks than the last run left is reported as damaged, never silently rebuilt. Every run ends
by bringing the BM25 keyword index (``assistant.rag.lexical``) in step with the live collection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from assistant.callbacks import Progress, no_progress
from assistant.errors import TutorError
from assistant.settings import Settings
from ingest.crawl import Crawler, is_web_url, normalize
from ingest.documents import Skipped, SourceDoc, discover, page_document, read_document, source_key
from ingest.links import LinkHarvest, follow_links
from ingest.netguard import foreign_scheme, has_credentials
from ingest.report import IngestReport, SkippedDoc
from ingest.store import IndexStore, StoredDoc, store_label

if TYPE_CHECKING:  # llama-index is imported only when something needs chunking (it takes seconds to import)
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import TextNode

EMBED_BATCH = 32
SORT_WINDOW = 512  # chunks embedded in length order at a time (see _embed_and_write)
SCHEMA_VERSION = "v2"


@dataclass(frozen=True)
class LinkOptions:
    """Follow links found in the documents: ``depth`` levels, at most ``max_pages`` fetches per run."""

    depth: int = 1
    max_pages: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkOptions:
        return cls(depth=settings.link_depth, max_pages=settings.link_max_pages)


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        client: ClientAPI,
        embedder_factory: Callable[[], BaseEmbedding],
        *,
        lock_timeout_s: float = 0,
    ) -> None:
        self.settings = settings
        self.client = client
        self._embedder_factory = embedder_factory
        self._embedder: BaseEmbedding | None = None
        self.lock_timeout_s = lock_timeout_s

    @property
    def embedder(self) -> BaseEmbedding:
        if self._embedder is None:  # loaded only when something needs embedding
            from assistant.accounting.embedding import account_embedder_from_settings

            self._embedder = account_embedder_from_settings(self._embedder_factory(), self.settings, feature="ingest")
        return self._embedder

    def signature(self) -> str:
        s = self.settings
        return f"{s.embedding_model}|{s.chunk_size}|{s.chunk_overlap}|{SCHEMA_VERSION}"

    def run(
        self,
        inputs: Sequence[Path | str],
        *,
        rebuild: bool = False,
        links: LinkOptions | None = None,
        progress: Progress = no_progress,
    ) -> IngestReport:
        """Ingest files, folders and URLs. ``links=None`` fetches nothing beyond URLs given as inputs."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.settings.data_dir / "ingest.lock"), timeout=self.lock_timeout_s)
        try:
            with lock:
                return self._run(list(inputs), rebuild, links, progress)
        except Timeout:
            raise TutorError(
                "Another ingest is writing to the index right now.",
                "wait for it to finish (or pass --wait SECONDS), then run this again.",
            ) from None

    def _run(
        self, inputs: list[Path | str], rebuild: bool, links: LinkOptions | None, progress: Progress
    ) -> IngestReport:
        started = time.perf_counter()
        follow = links is not None and links.depth > 0
        report = IngestReport(
            rebuilt=rebuild,
            store=store_label(self.settings),
            collection=self.settings.collection,
            links_followed=follow,
        )
        store = IndexStore(self.client, self.settings)
        store.recover()
        if rebuild:
            col = store.staging()
        else:
            report.interrupted_run_recovered = store.check_health(IngestReport.load_last(self.settings.data_dir))
            col = store.live()
        store.journal()

        urls = [normalize(str(x)) for x in inputs if is_web_url(str(x))]
        report.credentials_removed = [normalize(str(x)) for x in inputs if has_credentials(str(x))]
        foreign = [x for x in inputs if isinstance(x, str) and foreign_scheme(x) and not Path(x).exists()]
        paths = [Path(x) for x in inputs if not is_web_url(str(x)) and x not in foreign]
        docs, skipped = self._read_files(paths, progress)
        skipped += [Skipped(str(x), _foreign_reason(str(x))) for x in foreign]
        crawler = Crawler(self.settings) if urls or follow else None
        try:
            if crawler:
                docs += self._read_urls(crawler, urls, skipped)
            harvest = LinkHarvest()
            if crawler and links is not None and follow:
                harvest = follow_links(
                    docs,
                    crawler,
                    depth=links.depth,
                    max_pages=links.max_pages,
                    concurrency=self.settings.fetch_concurrency,
                    signature=self.signature(),
                    max_chars=self.settings.link_max_chars,
                    progress=progress,
                )
        finally:
            if crawler:
                crawler.close()
        report.documents_skipped = [SkippedDoc(source=s.source, reason=s.reason) for s in skipped]
        report.links = harvest.results

        existing = {} if rebuild else IndexStore.stored_docs(col)
        for result in harvest.results:
            if result.status not in ("fetched", "cached") and result.url in existing:
                result.kept_previous = True
                report.chunks_per_doc[result.url] = len(existing[result.url].ids)

        todo = self._diff(docs + harvest.docs, existing, report)
        gone = self._removed(existing, paths, docs, skipped, harvest, follow)
        repaired = set(report.documents_repaired) | gone
        report.documents_incomplete = [s for s in IndexStore.incomplete(existing) if s not in repaired]
        if report.documents_repaired:
            report.interrupted_run_recovered = True
        embed_start = time.perf_counter()
        self._embed_and_write(col, [n for _, n in todo], progress)
        report.embed_seconds = time.perf_counter() - embed_start
        report.chunks_added = sum(len(n) for _, n in todo)

        stale = [
            i
            for doc, _ in todo
            for h, ids in _hashes(existing, doc.source).items()
            if h != doc.content_hash
            for i in ids
        ]
        doomed = stale + [i for source in gone for i in existing[source].ids]
        if doomed:  # recorded first, so an interrupted run is not mistaken for damage by the next one
            store.plan_removals(len(doomed))
        report.chunks_removed = IndexStore.delete(col, doomed)
        report.documents_removed = sorted(gone)

        if rebuild:
            col = store.swap_in(col)
        report.chunks_total = col.count()
        self._sync_lexical(col, changed=rebuild or bool(report.chunks_added or report.chunks_removed))
        report.seconds = time.perf_counter() - started
        report.write(self.settings.data_dir)
        store.end_journal()
        return report

    # --- steps -------------------------------------------------------------------------------
    def _read_files(self, paths: list[Path], progress: Progress) -> tuple[list[SourceDoc], list[Skipped]]:
        files, skipped = discover(paths)
        docs: dict[str, SourceDoc] = {}
        max_bytes = int(self.settings.ingest_max_file_mb * 1024 * 1024)
        for i, path in enumerate(files, start=1):
            item = read_document(path, self.signature(), max_bytes)
            if isinstance(item, SourceDoc):
                docs.setdefault(item.source, item)
            else:
                skipped.append(item)
            progress("read", i, len(files))
        return list(docs.values()), skipped

    def _read_urls(self, crawler: Crawler, urls: list[str], skipped: list[Skipped]) -> list[SourceDoc]:
        docs: list[SourceDoc] = []
        for url in dict.fromkeys(urls):
            page = crawler.fetch(url)
            if not page.ok:
                hint = " (is the network up?)" if page.unreachable and not crawler.responses else ""
                skipped.append(Skipped(url, f"{page.status}: {page.reason}{hint}"))
                continue
            doc = page_document(page, self.signature(), origin="url", max_chars=self.settings.link_max_chars)
            (docs if isinstance(doc, SourceDoc) else skipped).append(doc)  # type: ignore[arg-type]
        return docs

    def _diff(
        self, docs: list[SourceDoc], existing: dict[str, StoredDoc], report: IngestReport
    ) -> list[tuple[SourceDoc, list[TextNode]]]:
        todo: list[tuple[SourceDoc, list[TextNode]]] = []
        for doc in docs:
            old = _hashes(existing, doc.source)
            if set(old) == {doc.content_hash}:
                if existing[doc.source].complete(doc.content_hash):
                    report.documents_unchanged.append(doc.source)
                    report.chunks_per_doc[doc.source] = len(old[doc.content_hash])
                    continue
                report.documents_repaired.append(doc.source)  # an interrupted run wrote only some chunks
            elif old:
                report.documents_changed.append(doc.source)
            else:
                report.documents_new.append(doc.source)
            from ingest.chunking import chunk_document  # llama-index: imported only when there is work

            nodes = chunk_document(doc, self.settings.chunk_size, self.settings.chunk_overlap)
            report.chunks_per_doc[doc.source] = len(nodes)
            todo.append((doc, nodes))
        return todo

    @staticmethod
    def _removed(
        existing: dict[str, StoredDoc],
        paths: list[Path],
        docs: list[SourceDoc],
        skipped: list[Skipped],
        harvest: LinkHarvest,
        follow: bool,
    ) -> set[str]:
        """Stored documents to delete: files gone from an ingested folder, and pages no longer linked."""
        roots = [source_key(p).rstrip("/") + "/" for p in paths if p.is_dir()]
        present = {d.source for d in docs} | {s.source for s in skipped}
        gone = {
            source
            for source, stored in existing.items()
            if stored.origin == "file" and source not in present and any(source.startswith(r) for r in roots)
        }
        # Linked pages: dropped with their parent, or when their parent was read again without linking them.
        read_again = {d.source for d in docs} | {d.source for d in harvest.docs}
        fetched = {d.source for d in harvest.docs}
        changed = True
        while changed:
            changed = False
            for source, stored in existing.items():
                if stored.origin != "link" or source in gone or source in fetched:
                    continue
                unlinked = follow and stored.parent in read_again and source not in harvest.wanted
                if stored.parent in gone or unlinked:
                    gone.add(source)
                    changed = True
        return gone

    def _sync_lexical(self, live: Collection, *, changed: bool) -> None:
        """Keep the BM25 index in step with the live collection: rebuilt after a change, else checked
        (built when missing, unreadable or stale, e.g. after an interrupted run)."""
        from assistant.rag.lexical import LexicalIndex, sync_lexical

        if changed:
            sync_lexical(live, self.settings.lexical_dir)
        else:
            LexicalIndex.open(live, self.settings.lexical_dir)

    def _embed_and_write(self, col: Collection, groups: list[list[TextNode]], progress: Progress) -> None:
        """Embed and store the chunks. Within each window of ``SORT_WINDOW`` chunks (documents in order, so a
        killed run leaves few documents half written) they are embedded shortest first: a batch of similar
        lengths pads little (knowledge/: 23.5 -> 33.5 chunks/s, the raw embedder's rate on the same texts)."""
        nodes = [n for group in groups for n in group]
        if not nodes:
            return
        from llama_index.core.schema import MetadataMode

        progress("embed", 0, len(nodes))
        done = 0
        for w in range(0, len(nodes), SORT_WINDOW):
            pairs = [(n.get_content(metadata_mode=MetadataMode.EMBED), n) for n in nodes[w : w + SORT_WINDOW]]
            window = sorted(pairs, key=lambda pair: len(pair[0]))
            for i in range(0, len(window), EMBED_BATCH):
                texts, batch = zip(*window[i : i + EMBED_BATCH], strict=True)
                vectors = self.embedder.get_text_embedding_batch(list(texts))
                for node, vector in zip(batch, vectors, strict=True):
                    node.embedding = vector
                IndexStore.write(col, list(batch))
                done += len(batch)
                progress("embed", done, len(nodes))


def _foreign_reason(text: str) -> str:
    scheme = foreign_scheme(text)
    if scheme == "file":
        return f"file:// URLs are not accepted: give the path instead ({'/' + text.split(':', 1)[1].lstrip('/')})"
    return f"{scheme}: inputs are not accepted: give an http(s) URL or a path"


def _hashes(existing: dict[str, StoredDoc], source: str) -> dict[str, list[str]]:
    stored = existing.get(source)
    return stored.hashes if stored else {}
