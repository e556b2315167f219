"""Ingest benchmarks: throughput on knowledge/ and on a synthetic 5,000-chunk corpus, the time of a second
(unchanged) ingest of knowledge/, and the peak memory of the 5,000-chunk ingest. Each knowledge/ run also
times the raw embedder (sentence-transformers ``encode(batch_size=32)``) on the very texts that run embedded,
right after it: the ingest / raw ratio is what the pipeline costs over embedding alone.

    .venv/bin/python -m bench.ingest_bench [--runs 3] [--synthetic-runs 3] [--chunks 5000]

Every run starts from an empty temporary data folder; links are not fetched (no network in a benchmark).
The knowledge/ runs share one process with the embedding model already loaded (its load time is
reported apart). Each synthetic run is a fresh child process, so its peak RSS is its own. Results are
printed as a table and written to bench/results/ingest-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import assistant  # noqa: F401  (offline hygiene first)
from assistant.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
WORDS = [
    "tensor",
    "gradient",
    "loss",
    "optimiser",
    "batch",
    "epoch",
    "feature",
    "label",
    "model",
    "training",
    "validation",
    "overfitting",
    "regularisation",
    "dropout",
    "embedding",
    "attention",
    "transformer",
    "token",
    "vector",
    "matrix",
    "probability",
    "variance",
    "bias",
    "pipeline",
    "deployment",
    "latency",
    "throughput",
    "monitoring",
    "drift",
    "dataset",
    "sample",
    "evaluation",
    "metric",
    "precision",
    "recall",
    "kernel",
    "convolution",
    "pooling",
    "residual",
    "normalisation",
    "learning",
    "rate",
    "momentum",
    "scheduler",
    "checkpoint",
    "inference",
]


def bench_settings(data_dir: Path) -> Settings:
    return load_settings(env_file=None, DATA_DIR=data_dir, MODEL_CACHE_DIR=REPO / "data" / "models")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def write_synthetic_corpus(folder: Path, chunks: int, per_doc: int = 50) -> int:
    """Markdown documents whose sections each make exactly one chunk: ``chunks`` chunks in all."""
    rng = random.Random(1234)
    folder.mkdir(parents=True, exist_ok=True)
    docs = max(1, chunks // per_doc)
    for d in range(docs):
        n = per_doc if d < docs - 1 else chunks - per_doc * (docs - 1)
        lines = [f"# Synthetic notes {d}", "", " ".join(rng.choices(WORDS, k=90)), ""]
        for s in range(n - 1):
            lines += [f"## Topic {d}.{s}", "", " ".join(rng.choices(WORDS, k=110)), ""]
        (folder / f"notes-{d:04d}.md").write_text("\n".join(lines))
    return docs


def ingest(settings: Settings, folder: Path, embedder: Any) -> tuple[float, Any]:
    from assistant.vectorstore.chroma import open_client
    from ingest.pipeline import Ingestor

    start = time.perf_counter()
    report = Ingestor(settings, open_client(settings), lambda: embedder).run([folder])
    return time.perf_counter() - start, report


def captured_texts(settings: Settings, folder: Path, embedder: Any) -> tuple[float, Any, list[str]]:
    """``ingest``, also returning the texts the pipeline embedded (metadata included, as it embeds them)."""
    from llama_index.core.schema import MetadataMode

    from ingest.pipeline import Ingestor

    texts: list[str] = []
    original = Ingestor._embed_and_write

    def recording(self: Any, col: Any, groups: Any, progress: Any) -> None:
        texts.extend(n.get_content(metadata_mode=MetadataMode.EMBED) for group in groups for n in group)
        original(self, col, groups, progress)

    Ingestor._embed_and_write = recording  # type: ignore[method-assign]
    try:
        seconds, report = ingest(settings, folder, embedder)
    finally:
        Ingestor._embed_and_write = original  # type: ignore[method-assign]
    return seconds, report, texts


def raw_encode_s(embedder: Any, texts: list[str]) -> float:
    """The raw embedder on the same texts: sentence-transformers ``encode(batch_size=32)``, nothing else."""
    model = embedder._model  # the SentenceTransformer inside llama-index's HuggingFaceEmbedding
    start = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    return time.perf_counter() - start


def knowledge_runs(runs: int) -> dict[str, Any]:
    from assistant.embedding.minilm import load_embedder

    start = time.perf_counter()
    embedder = load_embedder()
    embedder.get_text_embedding("warm up")
    load_s = time.perf_counter() - start
    rows = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-knowledge-") as tmp:
            settings = bench_settings(Path(tmp))
            cold_s, cold, texts = captured_texts(settings, REPO / "knowledge", embedder)
            raw_s = raw_encode_s(embedder, texts)  # side by side: the same texts, right after
            warm_s, warm = ingest(settings, REPO / "knowledge", embedder)
            assert warm.chunks_added == 0 and warm.chunks_total == cold.chunks_total, "re-ingest changed the index"
            assert len(texts) == cold.chunks_added, "the captured texts are not the ingested chunks"
            rows.append(
                {
                    "documents": cold.documents_seen,
                    "chunks": cold.chunks_added,
                    "seconds": cold_s,
                    "chunks_per_s": cold.chunks_added / cold_s,
                    "docs_per_s": cold.documents_seen / cold_s,
                    "embed_chunks_per_s": cold.embed_rate,
                    "raw_chunks_per_s": len(texts) / raw_s,
                    "ingest_vs_raw": (cold.chunks_added / cold_s) / (len(texts) / raw_s),
                    "unchanged_reingest_s": warm_s,
                }
            )
    cli = cli_unchanged_runs(max(runs, 3), embedder)
    print(f"knowledge runs: {json.dumps(rows)}\ncli runs: {json.dumps(cli)}", flush=True)
    return {"model_load_s": load_s, "runs": rows, "cli": cli}


def cli_unchanged_runs(runs: int, embedder: Any) -> dict[str, Any]:
    """Wall time of a whole `tutor ingest KNOWLEDGE --no-links` process (imports included) when nothing changed."""
    tutor = Path(sys.executable).parent / "tutor"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        ingest(bench_settings(Path(tmp)), REPO / "knowledge", embedder)  # the index the CLI then finds unchanged
        env = {**os.environ, "DATA_DIR": tmp, "CHROMA_HOST": "", "CHROMA_PATH": ""}
        cmd = [str(tutor), "ingest", str(REPO / "knowledge"), "--no-links", "--json"]
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=Path.cwd(), env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"tutor ingest failed:\n{proc.stderr[-2000:]}")
            report = json.loads(proc.stdout)
            assert report["chunks_added"] == 0 and report["documents_new"] == [], "the CLI run was not a no-op"
            rows.append({"wall_s": wall, "in_process_s": report["seconds"]})
    return {"runs": rows}


def synthetic_child(chunks: int) -> dict[str, Any]:
    """One synthetic run, in this (fresh) process: returns timings and memory."""
    from assistant.embedding.minilm import load_embedder

    with tempfile.TemporaryDirectory(prefix="bench-synthetic-") as tmp:
        corpus = Path(tmp) / "corpus"
        docs = write_synthetic_corpus(corpus, chunks)
        embedder = load_embedder()
        embedder.get_text_embedding("warm up")
        baseline = current_rss_mib()
        seconds, report = ingest(bench_settings(Path(tmp) / "data"), corpus, embedder)
        return {
            "documents": docs,
            "chunks": report.chunks_added,
            "seconds": seconds,
            "chunks_per_s": report.chunks_added / seconds,
            "docs_per_s": docs / seconds,
            "embed_chunks_per_s": report.embed_rate,
            "rss_after_model_load_mib": baseline,
            "peak_rss_mib": peak_rss_mib(),
        }


def synthetic_runs(runs: int, chunks: int) -> dict[str, Any]:
    rows = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-m", "bench.ingest_bench", "--child-synthetic", str(chunks)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"synthetic run failed:\n{proc.stderr[-2000:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"synthetic run {len(rows)}: {json.dumps(rows[-1])}", flush=True)  # kept even if a later run is cut
    return {"runs": rows}


def _stats(rows: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in rows]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def table(results: dict[str, Any]) -> str:
    k = results["knowledge"]["runs"]
    s = results["synthetic"]["runs"]
    cli = results["knowledge"]["cli"]["runs"]
    lines = [
        "| benchmark | value (median, min-max over runs) |",
        "|---|---|",
        f"| knowledge/: documents, chunks | {k[0]['documents']}, {k[0]['chunks']} |",
        f"| knowledge/: ingest time (s) | {_stats(k, 'seconds')} |",
        f"| knowledge/: chunks/s | {_stats(k, 'chunks_per_s')} |",
        f"| knowledge/: documents/s | {_stats(k, 'docs_per_s')} |",
        f"| knowledge/: raw embedder on the same texts, chunks/s | {_stats(k, 'raw_chunks_per_s')} |",
        f"| knowledge/: ingest / raw embedder (target >= 0.9) | {_stats(k, 'ingest_vs_raw')} |",
        f"| knowledge/: second, unchanged ingest (s; target < 2) | {_stats(k, 'unchanged_reingest_s')} |",
        f"| knowledge/: unchanged `tutor ingest` CLI, wall (s) | {_stats(cli, 'wall_s')} |",
        f"| knowledge/: unchanged `tutor ingest` CLI, its own timer (s) | {_stats(cli, 'in_process_s')} |",
        f"| embedding model load, once (s) | {results['knowledge']['model_load_s']:.2f} |",
    ]
    if s:
        lines += [
            f"| synthetic: documents, chunks | {s[0]['documents']}, {s[0]['chunks']} |",
            f"| synthetic: ingest time (s) | {_stats(s, 'seconds')} |",
            f"| synthetic: chunks/s | {_stats(s, 'chunks_per_s')} |",
            f"| synthetic: documents/s | {_stats(s, 'docs_per_s')} |",
            f"| synthetic: peak RSS (MiB) | {_stats(s, 'peak_rss_mib')} |",
            f"| synthetic: RSS after model load (MiB) | {_stats(s, 'rss_after_model_load_mib')} |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="knowledge/ runs")
    parser.add_argument("--synthetic-runs", type=int, default=3, help="synthetic-corpus runs (0 to skip)")
    parser.add_argument("--chunks", type=int, default=5000, help="size of the synthetic corpus, in chunks")
    parser.add_argument("--child-synthetic", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_synthetic:
        print(json.dumps(synthetic_child(args.child_synthetic)))
        return
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
        "knowledge": knowledge_runs(args.runs),
        "synthetic": synthetic_runs(args.synthetic_runs, args.chunks) if args.synthetic_runs else {"runs": []},
    }
    text = table(results)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"ingest-{stamp}.json").write_text(json.dumps(results, indent=2))
    (RESULTS / f"ingest-{stamp}.md").write_text(text + "\n")
    print(f"\nwritten: bench/results/ingest-{stamp}.json")


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    main()
