"""Answer latency on the embedded model: time to first answer text and whole-answer time over the golden
questions, side by side with raw llama.cpp on the same messages and the same output length.

    .venv/bin/python -m bench.answer_bench [--limit N] [--runs 1]

The pipeline runs on the eval index (the suite's committed corpus, built if missing) with the configured local
model, warm (one question answered before timing). For each question, one after the other:
- **pipeline**: ``tutor.answers.ask_stream`` as the terminal and the chat page use it (retrieval, evidence, the
  model's stream, the checks, key points); first text = the first non-blank piece shown;
- **raw**: ``llama_cpp.Llama.create_chat_completion(stream=True)`` on the messages the pipeline built, with
  ``max_tokens`` set to what the pipeline's answer generated, on a second context of the same model file.
Declined questions (no model call) are reported apart. Follow-ups are left out (their rewrite is a second call).
Results: a table on stdout, and bench/results/answer-<time>.json and .md (git-ignored).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import assistant  # noqa: F401  (offline hygiene first)
from assistant.settings import Settings, load_settings
from bench.output import write_results


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between ranks; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def timed_pipeline(tutor: Any, question: str) -> dict[str, Any]:
    start = time.perf_counter()
    first: float | None = None
    stream = tutor.answers.ask_stream(question)
    for piece in stream:
        if first is None and piece.strip():
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    answer = stream.answer
    return {
        "first_text_s": first if first is not None else total,
        "total_s": total,
        "declined": bool(answer.declined),
        "calls": answer.calls,
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
    }


def timed_raw(llm: Any, messages: list[dict[str, str]], max_tokens: int, settings: Settings) -> dict[str, Any]:
    llm.reset()
    start = time.perf_counter()
    first: float | None = None
    pieces = 0
    for chunk in llm.create_chat_completion(
        messages=messages,
        stream=True,
        max_tokens=max_tokens,
        temperature=settings.temperature,
        seed=7,
        repeat_penalty=1.1,
    ):
        delta = chunk["choices"][0].get("delta", {}).get("content")
        if delta:
            pieces += 1
            if first is None and delta.strip():
                first = time.perf_counter() - start
    total = time.perf_counter() - start
    return {"first_text_s": first if first is not None else total, "total_s": total, "pieces": pieces}


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    answered = [r for r in rows if not r["pipeline"]["declined"]]

    def col(side: str, key: str) -> list[float]:
        return [float(r[side][key]) for r in answered if side in r]

    out: dict[str, float] = {"questions": len(rows), "answered": len(answered)}
    for side in ("pipeline", "raw"):
        for key in ("first_text_s", "total_s"):
            values = col(side, key)
            out[f"{side}_{key}_p50"] = percentile(values, 50)
            out[f"{side}_{key}_p95"] = percentile(values, 95)
    out["prompt_tokens_p50"] = percentile(col("pipeline", "prompt_tokens"), 50)
    paired = [r for r in answered if "raw" in r and r["raw"]["total_s"] > 0]
    if paired:
        out["total_ratio_p50"] = statistics.median(r["pipeline"]["total_s"] / r["raw"]["total_s"] for r in paired)
        out["first_text_ratio_p50"] = statistics.median(
            r["pipeline"]["first_text_s"] / r["raw"]["first_text_s"] for r in paired if r["raw"]["first_text_s"] > 0
        )
    declined = [r["pipeline"]["total_s"] for r in rows if r["pipeline"]["declined"]]
    out["declined_total_s_p50"] = percentile(declined, 50)
    return out


def table(s: dict[str, float]) -> str:
    lines = [
        f"questions {int(s['questions'])}, answered {int(s['answered'])} (declined ones apart)",
        "",
        "| measure | pipeline p50 | pipeline p95 | raw llama.cpp p50 | raw p95 |",
        "|---|---|---|---|---|",
    ]
    for key, name in (("first_text_s", "first answer text (s)"), ("total_s", "whole answer (s)")):
        lines.append(
            f"| {name} | {s[f'pipeline_{key}_p50']:.2f} | {s[f'pipeline_{key}_p95']:.2f} "
            f"| {s[f'raw_{key}_p50']:.2f} | {s[f'raw_{key}_p95']:.2f} |"
        )
    lines += [
        "",
        f"pipeline / raw, median per question: whole answer {s.get('total_ratio_p50', 0):.2f}x, "
        f"first text {s.get('first_text_ratio_p50', 0):.2f}x",
        f"prompt tokens per answer, median: {s['prompt_tokens_p50']:.0f}",
    ]
    if s["questions"] > s["answered"]:
        lines.append(f"a declined question takes {s['declined_total_s_p50']:.2f} s (median)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="time only the first N golden questions (0: all)")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw llama.cpp side")
    args = parser.parse_args(argv)

    from llama_cpp import Llama

    from assistant.embedding.minilm import load_embedder
    from assistant.llm.model_files import MODELS, ModelStore
    from evals.golden import load_golden
    from evals.harness import pipeline
    from evals.suite import Suite

    settings = load_settings()
    if settings.provider != "local":
        raise SystemExit("error: this bench times the embedded model. Fix: run it with PROVIDER=local.")
    suite = Suite.load()
    items = [i for i in load_golden(suite.golden_dir) if not i.history]
    items = items[: args.limit] if args.limit else items
    tutor = pipeline(settings, suite, load_embedder(settings.embedding_model))
    raw = None
    if not args.no_raw:
        path = ModelStore(settings.models_dir).verified_path(MODELS[settings.local_model])
        raw = Llama(str(path), n_ctx=settings.n_ctx, n_threads=settings.n_threads, verbose=False)
    tutor.answers.ask("What is overfitting?")  # warm: model loaded, caches filled
    rows: list[dict[str, Any]] = []
    for n, item in enumerate(items, start=1):
        row: dict[str, Any] = {"id": item.id}
        messages = [m.model_dump() for m in tutor.answers.prepare(item.question)[1]]
        row["pipeline"] = timed_pipeline(tutor, item.question)
        if raw is not None and not row["pipeline"]["declined"]:  # the raw side needs the pipeline's length
            row["raw"] = timed_raw(raw, messages, max(row["pipeline"]["completion_tokens"], 1), settings)
        rows.append(row)
        p = row["pipeline"]
        print(f"{n}/{len(items)} {item.id}: first text {p['first_text_s']:.2f} s, whole {p['total_s']:.2f} s")
    s = summary(rows)
    text = table(s)
    print("\n" + text)
    record = {"model": settings.local_model, "threads": settings.n_threads, "summary": s, "rows": rows}
    write_results("answer", record, text)


if __name__ == "__main__":
    main()
