"""Heading-aware, token-sized chunks with the metadata citations and practice features need."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import tiktoken
from llama_index.core import Document
from llama_index.core.node_parser import MarkdownNodeParser, SentenceSplitter
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from ingest.documents import SourceDoc
from ingest.store import COMPLETE_KEY

# Only the title and heading path are embedded with the text; the rest is for filters and citations.
EMBED_KEYS = {"title", "heading_path"}


@lru_cache(maxsize=1)
def _tokenizer() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base")


def source_id(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()[:10]


def count_tokens(text: str) -> int:
    return len(_tokenizer().encode(text, disallowed_special=()))


def _clean(heading: str) -> str:
    """A heading without Markdown emphasis: ``**1. Basics**`` -> ``1. Basics``."""
    return heading.strip().strip("*_`").strip()


def _sections(doc: SourceDoc) -> list[tuple[list[str], str]]:
    """(heading path, section text) pairs; each section's own heading is the last path element."""
    if doc.kind == "pdf":  # one section per page, so citations can name the page
        return [([doc.title, f"page {i}"], page) for i, page in enumerate(doc.text.split("\f"), 1) if page.strip()]
    if doc.kind != "markdown":
        return [([doc.title], doc.text)]
    parser = MarkdownNodeParser(include_metadata=True, header_path_separator="\x1f")
    out = []
    for node in parser.get_nodes_from_documents([Document(text=doc.text)]):
        text = node.get_content()
        parents = [_clean(p) for p in str(node.metadata.get("header_path", "")).split("\x1f") if _clean(p)]
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        own = _clean(first.lstrip("#")) if first.startswith("#") else ""
        path = [*parents, own] if own else parents or [doc.title]
        if text.strip():
            out.append((path, text))
    return out


def chunk_document(doc: SourceDoc, chunk_size: int, chunk_overlap: int) -> list[TextNode]:
    splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=_tokenizer().encode)
    topics = doc.meta.get("topics") or []
    base = {
        "source": doc.source,
        "title": doc.title,
        "doc_hash": doc.content_hash,
        "stage": int(doc.meta.get("stage", -1)) if str(doc.meta.get("stage", "")).isdigit() else -1,
        "topics": ",".join(str(t) for t in topics) if isinstance(topics, list) else str(topics),
        "kind": doc.kind,
        "origin": doc.origin,  # file | url | link
        "url": doc.url,  # where a web page was fetched from (after redirects)
        "parent": doc.parent,  # the document whose link brought this page in
        "link_text": doc.link_text,
    }
    nodes: list[TextNode] = []
    cursor = 0
    for path, section in _sections(doc):
        for piece in splitter.split_text(section):
            if not piece.strip():
                continue
            start = doc.text.find(piece[:80], cursor)
            if start == -1:
                start = doc.text.find(piece[:80])
            if start != -1:
                cursor = start
            meta = {
                **base,
                "heading": path[-1],
                "heading_path": " > ".join(path),
                "char_start": start,
                "char_end": start + len(piece) if start != -1 else -1,
            }
            i = len(nodes)
            node = TextNode(
                id_=f"{source_id(doc.source)}:{doc.content_hash[:12]}:{i}",
                text=piece,
                metadata=meta,
                excluded_embed_metadata_keys=[k for k in meta if k not in EMBED_KEYS],
                excluded_llm_metadata_keys=list(meta),
                # llama-index stores the SOURCE node id as the chunk's "doc_id" metadata
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc.doc_id)},
            )
            nodes.append(node)
    for node in nodes:  # a document counts as stored only when all its chunks are (see ingest/store.py)
        node.metadata[COMPLETE_KEY] = len(nodes)
        node.excluded_embed_metadata_keys.append(COMPLETE_KEY)
        node.excluded_llm_metadata_keys.append(COMPLETE_KEY)
    return nodes
