"""The answer benchmark's arithmetic (bench/answer_bench.py): percentiles and the pipeline/raw ratios, on rows
shaped as the bench writes them. The timings themselves are measured by `make bench`, never asserted here."""

from __future__ import annotations

import pytest

from bench.answer_bench import percentile, summary, table


def test_percentile_interpolates_between_ranks():
    assert percentile([], 50) == 0.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([5.0, 1.0, 3.0], 0) == 1.0 and percentile([5.0, 1.0, 3.0], 100) == 5.0


def row(first: float, total: float, raw_first: float, raw_total: float, *, declined: bool = False) -> dict:
    pipeline = {"first_text_s": first, "total_s": total, "declined": declined, "prompt_tokens": 400}
    return (
        {"pipeline": pipeline}
        if declined
        else {"pipeline": pipeline, "raw": {"first_text_s": raw_first, "total_s": raw_total}}
    )


def test_summary_pairs_each_answer_with_its_raw_run_and_keeps_declines_apart():
    rows = [row(2.0, 10.0, 2.0, 8.0), row(3.0, 12.0, 2.0, 12.0), row(0.1, 0.1, 0, 0, declined=True)]
    s = summary(rows)
    assert s["questions"] == 3 and s["answered"] == 2
    assert s["pipeline_first_text_s_p50"] == pytest.approx(2.5)
    assert s["total_ratio_p50"] == pytest.approx((10 / 8 + 12 / 12) / 2)
    assert s["first_text_ratio_p50"] == pytest.approx((1.0 + 1.5) / 2)
    assert s["declined_total_s_p50"] == pytest.approx(0.1)
    assert "| first answer text (s) | 2.50 |" in table(s)


def test_the_retrieval_bench_searches_a_synthetic_store_both_ways(embedder):
    """A small run of bench/retrieval_bench.py: the store fills, BM25 is built on the first search, and every
    question is timed hybrid and vector-only (the sizes that matter run in `make bench`)."""
    from bench.retrieval_bench import table, time_size

    row = time_size(300, ["How do I start with MLOps?", "What is a transformer?", "gradient drift"], embedder)
    assert row["chunks"] == 300 and row["hybrid_p95_ms"] > 0 and row["vector_p95_ms"] > 0
    assert row["ratio_p95"] == pytest.approx(row["hybrid_p95_ms"] / row["vector_p95_ms"])
    assert "| 300 |" in table([row], 3)


def test_the_ingest_bench_times_the_raw_embedder_on_the_texts_ingest_embedded(mini_corpus, embedder, tmp_path):
    """The ingest / raw-embedder ratio compares like with like: the texts captured are the chunks the pipeline
    embedded (metadata included), one per chunk, and the raw encoder runs on exactly those."""
    from bench.ingest_bench import bench_settings, captured_texts, raw_encode_s

    seconds, report, texts = captured_texts(bench_settings(tmp_path / "data"), mini_corpus, embedder)
    assert report.chunks_added > 0 and len(texts) == report.chunks_added and seconds > 0
    assert any("linear algebra" in t.lower() for t in texts)  # the corpus's own text, not placeholders
    assert raw_encode_s(embedder, texts) > 0
    _, again, more = captured_texts(bench_settings(tmp_path / "data"), mini_corpus, embedder)
    assert again.chunks_added == 0 and more == []  # nothing embedded, nothing captured (the patch is undone)


def test_the_baseline_bench_runs_llama_index_default_engine_on_our_collection(
    openai_settings, mini_corpus, embedder, fake_openai
):
    """bench/baseline_bench.py's other side: llama-index's default query engine reads the chunks our ingest
    wrote (through ChromaVectorStore) and asks the same chat model, whose prompt tokens it counts."""
    from assistant.services import Tutor
    from bench.baseline_bench import default_engine
    from tests.conftest import ingest_folder

    ingest_folder(openai_settings, mini_corpus, embedder)
    tutor = Tutor(openai_settings, embedder=embedder)
    fake_openai.responder = lambda body: "Serve it behind FastAPI in Docker."
    engine, counted = default_engine(tutor, tutor.llm.for_feature("eval"), 64, 0.1)
    response = engine.query("How do I deploy a model?")
    assert str(response) == "Serve it behind FastAPI in Docker."
    prompt = fake_openai.requests[-1]["messages"][-1]["content"]
    assert "Context information is below." in prompt and "FastAPI" in prompt  # llama-index's template, our chunk
    assert len(counted) == 1 and counted[0] > 50


def test_the_baseline_summary_sets_each_side_beside_the_other():
    from bench.baseline_bench import summary as base_summary
    from bench.baseline_bench import table as base_table

    def side(tokens: int, recall: float, wrong: float) -> dict:
        return {"prompt_tokens": tokens, "seconds": 10.0, "key_fact_recall": recall, "wrong": wrong}

    rows = [
        {"ours": side(400, 0.5, 0), "default": side(800, 0.25, 1)},
        {"ours": side(500, 1.0, 0), "default": side(900, 0.5, 0)},
    ]
    s = base_summary(rows)
    assert s["ours_key_fact_recall"] == pytest.approx(0.75) and s["default_key_fact_recall"] == pytest.approx(0.375)
    assert s["ours_wrong_items"] == 0 and s["default_wrong_items"] == 1
    assert "| key-fact recall (mean) | 0.75 | 0.375 | 2.00x |" in base_table(s)
    assert "| prompt tokens p50 | 450 | 850 | 0.53x |" in base_table(s)
