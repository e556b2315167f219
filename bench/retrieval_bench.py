"""Retrieval latency at scale: one search as the tutor makes it (query embedding, Chroma vector search, BM25,
fusion, section priors) at 10,000 and 100,000 chunks, hybrid beside vector-only on the same store.

    .venv/bin/python -m bench.retrieval_bench [--sizes 10000 100000] [--queries 81]

The store is synthetic: chunks of random roadmap words with random unit vectors (384-d, as MiniLM's), written
straight into a Chroma collection made as ingest makes it (cosine space), in a temporary folder. Embedding
100,000 real chunks would take most of an hour on two cores and changes nothing a search does. Queries are the
golden questions, embedded by the real MiniLM. The first hybrid search builds the BM25 index (timed apart); every
query then runs once per mode, modes alternating. Reports p50/p95 per size and mode, the hybrid / vector ratio,
store build times and peak memory; results in bench/results/retrieval-<time>.json and .md (git-ignored).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import assistant  # noqa: F401  (offline hygiene first)
from bench.answer_bench import percentile
from bench.ingest_bench import WORDS, bench_settings, peak_rss_mib
from bench.output import write_results

DIM = 384
BATCH = 5000  # under Chroma's largest accepted batch
HEADINGS = ["Overview", "Key ideas", "Worked example", "Common mistakes", "Study plan", "Resources"]


def fill_store(settings: Any, chunks: int) -> Any:
    """A collection holding ``chunks`` synthetic chunks; returns it."""
    from assistant.vectorstore.chroma import get_or_create_collection, open_client

    rng = random.Random(99)
    vectors = np.random.default_rng(99).standard_normal((chunks, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    collection = get_or_create_collection(open_client(settings), settings)
    for start in range(0, chunks, BATCH):
        ids = [f"synthetic-{i:06d}" for i in range(start, min(chunks, start + BATCH))]
        docs = [" ".join(rng.choices(WORDS, k=110)) for _ in ids]
        metas: list[Any] = []
        for i in range(start, start + len(ids)):
            doc, section = divmod(i, 50)
            heading = HEADINGS[section % len(HEADINGS)]
            metas.append(
                {
                    "source": f"notes-{doc:05d}.md",
                    "doc_id": f"notes-{doc:05d}",
                    "title": f"Synthetic notes {doc}",
                    "heading": heading,
                    "heading_path": f"Synthetic notes {doc} > {heading} {section}",
                    "stage": doc % 14,
                }
            )
        collection.add(ids=ids, documents=docs, metadatas=metas, embeddings=vectors[start : start + len(ids)])
    return collection


def time_size(chunks: int, questions: list[str], embedder: Any) -> dict[str, Any]:
    from assistant.rag.retrieval import Retriever

    with tempfile.TemporaryDirectory(prefix="tutor-retrieval-bench-") as tmp:
        settings = bench_settings(Path(tmp))
        start = time.perf_counter()
        collection = fill_store(settings, chunks)
        filled = time.perf_counter() - start
        lexical_dir = Path(tmp) / "lexical"
        hybrid = Retriever(collection, embedder, top_k=settings.top_k, lexical_dir=lexical_dir)
        vector = Retriever(collection, embedder, top_k=settings.top_k, lexical_weight=0.0)
        start = time.perf_counter()
        hybrid.search(questions[0])  # opens (builds and saves) the BM25 index
        first = time.perf_counter() - start
        vector.search(questions[0])
        times: dict[str, list[float]] = {"hybrid": [], "vector": []}
        for n, question in enumerate(questions):
            pair = (("hybrid", hybrid), ("vector", vector))
            for mode, retriever in pair if n % 2 else pair[::-1]:
                start = time.perf_counter()
                retriever.search(question)
                times[mode].append(time.perf_counter() - start)
    row: dict[str, Any] = {"chunks": chunks, "fill_s": filled, "first_hybrid_s": first, "peak_rss_mib": peak_rss_mib()}
    for mode, values in times.items():
        row[f"{mode}_p50_ms"] = percentile(values, 50) * 1000
        row[f"{mode}_p95_ms"] = percentile(values, 95) * 1000
    row["ratio_p95"] = row["hybrid_p95_ms"] / row["vector_p95_ms"]
    return row


def table(rows: list[dict[str, Any]], queries: int) -> str:
    lines = [
        f"one search (query embedding included), {queries} golden questions, 2-core timings in ms",
        "",
        "| chunks | hybrid p50 | hybrid p95 | vector p50 | vector p95 | hybrid / vector p95 | store fill (s) "
        "| first search, BM25 built (s) | peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['chunks']:,} | {r['hybrid_p50_ms']:.1f} | {r['hybrid_p95_ms']:.1f} | {r['vector_p50_ms']:.1f} "
            f"| {r['vector_p95_ms']:.1f} | {r['ratio_p95']:.2f}x | {r['fill_s']:.1f} | {r['first_hybrid_s']:.1f} "
            f"| {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="chunks in the store")
    parser.add_argument("--queries", type=int, default=81, help="golden questions to time")
    args = parser.parse_args(argv)

    from assistant.embedding.minilm import load_embedder
    from evals.golden import load_golden
    from evals.suite import Suite

    settings = bench_settings(Path(tempfile.gettempdir()))
    questions = [i.question for i in load_golden(Suite.load().golden_dir)][: args.queries]
    embedder = load_embedder(settings.embedding_model)
    embedder.get_query_embedding(questions[0])  # warm
    rows = []
    for size in args.sizes:
        rows.append(time_size(size, questions, embedder))
        print(f"{size:,} chunks: hybrid p95 {rows[-1]['hybrid_p95_ms']:.1f} ms", flush=True)
    text = table(rows, len(questions))
    print("\n" + text)
    write_results("retrieval", {"rows": rows}, text)


if __name__ == "__main__":
    main()
