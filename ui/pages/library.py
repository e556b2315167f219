"""Library page: what is in the index, what the last ingest found (dead links by document), and an ingest button.

Everything shown here comes from documents and fetched pages, so it is untrusted: tables and
``st.text`` only, never HTML.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import streamlit as st

from assistant.errors import TutorError
from assistant.services import Tutor
from assistant.vectorstore.chroma import get_all
from ingest.crawl import is_web_url
from ingest.pipeline import Ingestor, LinkOptions
from ingest.report import IngestReport
from ingest.store import IndexStore
from ui.state import get_tutor


def indexed_documents(tutor: Tutor) -> list[dict[str, Any]]:
    """One row per stored document with its chunk count ([] when there is no index yet)."""
    names = {c if isinstance(c, str) else c.name for c in tutor.chroma.list_collections()}
    if tutor.settings.collection not in names:
        return []
    rows: dict[str, dict[str, Any]] = {}
    for meta in get_all(tutor.collection, ["metadatas"])["metadatas"]:
        meta = meta or {}
        source = str(meta.get("source", "?"))
        row = rows.setdefault(
            source,
            {
                "document": source,
                "title": str(meta.get("title", "")),
                "origin": str(meta.get("origin", "file")),
                "linked from": str(meta.get("parent", "")),
                "chunks": 0,
            },
        )
        row["chunks"] += 1
    return sorted(rows.values(), key=lambda r: (r["origin"] == "link", r["document"]))


def plain_label(text: str) -> str:
    """Untrusted text for a widget label (labels render Markdown): every Markdown character escaped."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|~$.-])", r"\\\1", text)


def show_report(report: IngestReport) -> None:
    st.subheader("Last ingest")
    st.caption(f"{report.started:%Y-%m-%d %H:%M} UTC · {report.seconds:.1f} s · {report.collection} at {report.store}")
    st.text(report.summary().split("\nskipped ")[0].split("\nbroken links in ")[0])
    if report.documents_skipped:
        with st.expander(f"Skipped inputs ({len(report.documents_skipped)})"):
            for skipped in report.documents_skipped:
                st.text(f"{skipped.source}: {skipped.reason}")
    broken = report.broken_links_by_document()
    if broken:
        st.markdown("**Dead and refused links, by the document that links them**")
        for parent, links in broken.items():
            with st.expander(plain_label(f"{parent} ({len(links)})")):
                for link in links:
                    kept = " (earlier copy kept)" if link.kept_previous else ""
                    st.text(f"{link.status}: {link.url}\n    {link.link_text} — {link.reason}{kept}")


class StreamlitProgress:
    """The ingest progress callback, drawn as one bar per phase with counts and rate."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}
        self._started: dict[str, float] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self._bars:
            self._bars[phase] = st.progress(0.0)
            self._started[phase] = time.monotonic()
        elapsed = time.monotonic() - self._started[phase]
        rate = f" · {done / elapsed:.1f}/s" if elapsed > 0 and done else ""
        self._bars[phase].progress(min(done / total, 1.0) if total else 1.0, text=f"{phase}: {done}/{total}{rate}")


def ingest_form(tutor: Tutor) -> None:
    settings = tutor.settings
    with st.form("ingest"):
        targets = st.text_area(
            "Files, folders or URLs (one per line)", value=str(settings.knowledge_dir), help="Default: KNOWLEDGE_DIR"
        )
        follow = st.checkbox(
            "Fetch linked pages", value=settings.knowledge_links, help="Default: KNOWLEDGE_LINKS (off: no network)"
        )
        max_pages = st.number_input("Most linked pages", min_value=0, value=settings.link_max_pages, step=10)
        rebuild = st.checkbox("Rebuild from scratch (the current index answers until the new one is complete)")
        submitted = st.form_submit_button("Ingest")
    if not submitted:
        return
    inputs: list[Path | str] = [
        line if is_web_url(line) else Path(line) for line in (x.strip() for x in targets.splitlines()) if line
    ]
    links = LinkOptions(depth=max(settings.link_depth, 1), max_pages=int(max_pages)) if follow else None
    try:
        report = Ingestor(settings, tutor.chroma, lambda: tutor.embedder_for("ingest")).run(
            inputs or [settings.knowledge_dir], rebuild=rebuild, links=links, progress=StreamlitProgress()
        )
    except TutorError as exc:
        st.error(str(exc))
        return
    tutor.refresh_index()  # this session (and the chat page) now answers from the new index
    (st.success if report.ingested_anything else st.warning)(
        f"Ingest finished: {report.documents_seen} documents, {report.chunks_total} chunks in the index."
    )


def render() -> None:
    st.title("Library")
    st.caption("The documents the tutor answers from, and the links they point to.")
    try:
        tutor = get_tutor()
    except TutorError as exc:
        st.error(str(exc))
        return
    ingest_form(tutor)
    last = IngestReport.load_last(tutor.settings.data_dir)
    try:
        IndexStore(tutor.chroma, tutor.settings).check_health(last)
        rows = indexed_documents(tutor)
    except TutorError as exc:
        st.error(str(exc))
        rows = []
    st.subheader(f"Indexed documents ({len(rows)})")
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch", height="content")
    else:
        st.info("Nothing is indexed yet: ingest knowledge/ with the button above or `tutor ingest`.")
    if last:
        show_report(last)


render()
