"""Our answer pipeline beside llama-index's default query engine, on the same eval index and the same model:
prompt tokens, key-fact recall, wrong claims and time per answer.

    .venv/bin/python -m bench.baseline_bench [--limit 24]

For each golden question (follow-ups and must-decline items left out), one after the other:
- **ours**: ``tutor.answers.ask`` (hybrid retrieval, compact evidence, the checks, key points);
- **default**: ``VectorStoreIndex.from_vector_store(ChromaVectorStore(<the same collection>)).as_query_engine()``
  with llama-index's defaults (top 2 chunks, its text-QA template, compact synthesis), the LLM being the same
  configured chat model behind a ``CustomLLM`` that sends llama-index's prompt as one user message.
Both answers are scored with the eval suite's key-fact matcher (``evals/correctness.py``), the metric the
release gate uses. Results: a table on stdout, bench/results/baseline-<time>.json and .md (git-ignored).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import assistant  # noqa: F401  (offline hygiene first)
from assistant.llm.base import ChatModel, Message
from assistant.settings import load_settings
from bench.answer_bench import percentile
from bench.output import write_results


def default_engine(tutor: Any, chat: ChatModel, max_tokens: int, temperature: float) -> tuple[Any, list[int]]:
    """llama-index's default query engine over the tutor's collection; also the prompt-token count of each call."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
    from llama_index.vector_stores.chroma import ChromaVectorStore

    counted: list[int] = []

    class SameModel(CustomLLM):  # type: ignore[misc]
        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=tutor.settings.n_ctx, num_output=max_tokens, model_name=chat.model)

        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            done = chat.complete([Message(role="user", content=prompt)], max_tokens=max_tokens, temperature=temperature)
            counted.append(done.usage.prompt_tokens)
            return CompletionResponse(text=done.text)

        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
            raise NotImplementedError("the bench does not stream")

    store = ChromaVectorStore(chroma_collection=tutor.collection)
    index = VectorStoreIndex.from_vector_store(store, embed_model=tutor.embedder)
    return index.as_query_engine(llm=SameModel()), counted


def scored(found: Any, text: str, seconds: float, tokens: int) -> dict[str, Any]:
    """One side's row: the answer, its cost and what the release gate's matcher found in it."""
    return {
        "answer": text,
        "seconds": seconds,
        "prompt_tokens": tokens,
        "key_fact_recall": found.recall or 0.0,
        "wrong": found.wrong or 0.0,
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {"questions": len(rows)}
    for side in ("ours", "default"):
        for key in ("prompt_tokens", "seconds"):
            values = [float(r[side][key]) for r in rows]
            out[f"{side}_{key}_p50"] = percentile(values, 50)
            out[f"{side}_{key}_p95"] = percentile(values, 95)
        out[f"{side}_key_fact_recall"] = statistics.fmean(r[side]["key_fact_recall"] for r in rows) if rows else 0.0
        out[f"{side}_wrong_items"] = sum(r[side]["wrong"] > 0 for r in rows)
    return out


def table(s: dict[str, float]) -> str:
    lines = [
        f"questions {int(s['questions'])} (same index, same model, one after the other)",
        "",
        "| measure | ours | llama-index default | ours / default |",
        "|---|---|---|---|",
    ]
    for key, name in (
        ("prompt_tokens_p50", "prompt tokens p50"),
        ("prompt_tokens_p95", "prompt tokens p95"),
        ("seconds_p50", "seconds per answer p50"),
        ("seconds_p95", "seconds per answer p95"),
        ("key_fact_recall", "key-fact recall (mean)"),
        ("wrong_items", "answers stating a wrong claim"),
    ):
        ours, base = s[f"ours_{key}"], s[f"default_{key}"]
        ratio = f"{ours / base:.2f}x" if base else "-"
        lines.append(f"| {name} | {ours:.3g} | {base:.3g} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=24, help="the first N answerable golden questions (0: all)")
    args = parser.parse_args(argv)

    from assistant.embedding.minilm import load_embedder
    from evals.correctness import matcher_for
    from evals.golden import load_golden
    from evals.harness import pipeline
    from evals.score import check_answer
    from evals.suite import Suite

    settings = load_settings()
    suite = Suite.load()
    items = [i for i in load_golden(suite.golden_dir) if not i.history and not i.must_decline and i.key_facts]
    items = items[: args.limit] if args.limit else items
    embedder = load_embedder(settings.embedding_model)
    tutor = pipeline(settings, suite, embedder)
    matcher = matcher_for(suite.corpus, embedder)
    engine, counted = default_engine(
        tutor, tutor.llm.for_feature("eval"), settings.max_answer_tokens, settings.temperature
    )
    tutor.answers.ask("What is overfitting?")  # warm: model loaded, caches filled
    rows: list[dict[str, Any]] = []
    for n, item in enumerate(items, start=1):
        start = time.perf_counter()
        ours = tutor.answers.ask(item.question)
        seconds = time.perf_counter() - start
        row: dict[str, Any] = {"id": item.id}
        row["ours"] = scored(
            check_answer(item, ours.text, ours.declined, matcher), ours.text, seconds, ours.usage.prompt_tokens
        )
        start, before = time.perf_counter(), len(counted)
        response = engine.query(item.question)
        seconds, text = time.perf_counter() - start, str(response)
        row["default"] = scored(check_answer(item, text, False, matcher), text, seconds, sum(counted[before:]))
        rows.append(row)
        print(
            f"{n}/{len(items)} {item.id}: recall ours {row['ours']['key_fact_recall']:.2f} "
            f"default {row['default']['key_fact_recall']:.2f}; prompt tokens {row['ours']['prompt_tokens']} "
            f"vs {row['default']['prompt_tokens']}",
            flush=True,
        )
    s = summary(rows)
    text = table(s)
    print("\n" + text)
    write_results("baseline", {"model": settings.local_model, "summary": s, "rows": rows}, text)


if __name__ == "__main__":
    main()
