"""Prompt-prefix reuse in llama.cpp: time to first token with the context reset before every call (what the
local model did until 2026-12-07) against the system turn kept in the context (``assistant/llm/prefix.py``), and
whether the kept system turn gives exactly the text that evaluating it afresh gives.

    .venv/bin/python -m bench.prefix_bench [--limit 12]

One model context; for each golden question the pipeline's messages (eval index, no model call) are sent three
ways, in rotating order: ``reset`` (the whole prompt in one batch), ``fresh`` (the system turn evaluated, then the
rest: the product's path on a cold context) and ``kept`` (the system turn left by the previous question's call,
then the rest: the product's path in a session). Each run generates 24 tokens. Reports time to first token
p50/p95, the kept / reset ratio, and how many prompts give the same 24 tokens kept and fresh (the product's
promise: all of them) and kept and reset. Results in bench/results/prefix-<time>.json and .md (git-ignored).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import assistant  # noqa: F401  (offline hygiene first)
from assistant.llm.base import Message
from assistant.llm.prefix import prepare_context
from assistant.settings import load_settings
from bench.answer_bench import percentile
from bench.output import write_results

GEN_TOKENS = 24


def first_token(llm: Any, messages: list[Message], *, mode: str, seed: int = 7) -> tuple[float, str]:
    """Seconds to the first streamed token, and the text of GEN_TOKENS tokens."""
    start = time.perf_counter()
    if mode == "reset":
        llm.reset()
    else:
        if mode == "fresh":
            llm.reset()
        prepare_context(llm, messages)
    first: float | None = None
    parts: list[str] = []
    stream = llm.create_chat_completion(
        messages=[m.model_dump() for m in messages],
        stream=True,
        max_tokens=GEN_TOKENS,
        temperature=0.1,
        seed=seed,
        repeat_penalty=1.1,
    )
    for chunk in stream:
        delta = chunk["choices"][0].get("delta", {}).get("content")
        if delta:
            first = first if first is not None else time.perf_counter() - start
            parts.append(delta)
    return (first if first is not None else time.perf_counter() - start), "".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=12, help="golden questions to time")
    args = parser.parse_args(argv)

    from llama_cpp import Llama

    from assistant.embedding.minilm import load_embedder
    from assistant.llm.model_files import MODELS, ModelStore
    from evals.golden import load_golden
    from evals.harness import NoCallModel, pipeline
    from evals.suite import Suite

    settings = load_settings()
    suite = Suite.load()
    tutor = pipeline(settings, suite, load_embedder(settings.embedding_model), chat_model=NoCallModel())
    items = [i for i in load_golden(suite.golden_dir) if not i.history][: args.limit]
    prompts = [tutor.answers.prepare(i.question)[1] for i in items]
    prompts = [p for p in prompts if p]
    path = ModelStore(settings.models_dir).verified_path(MODELS[settings.local_model])
    llm = Llama(str(path), n_ctx=settings.n_ctx, n_threads=settings.n_threads, verbose=False)
    first_token(llm, prompts[0], mode="reset")  # warm
    modes = ("reset", "fresh", "kept")
    rows: list[dict[str, Any]] = []
    previous = prompts[-1]  # the first prompt follows another question, never itself
    for n, messages in enumerate(prompts, start=1):
        row: dict[str, Any] = {}
        for mode in modes[n % 3 :] + modes[: n % 3]:
            if mode == "kept":  # the context holds the previous question's prompt, as in a session
                first_token(llm, previous, mode="kept")
            row[mode], row[f"{mode}_text"] = first_token(llm, messages, mode=mode)
        row["kept_is_fresh"] = row["kept_text"] == row["fresh_text"]
        row["kept_is_reset"] = row["kept_text"] == row["reset_text"]
        rows.append(row)
        previous = messages
        print(
            f"{n}/{len(prompts)}: reset {row['reset']:.2f} s, fresh {row['fresh']:.2f} s, kept {row['kept']:.2f} s; "
            f"kept = fresh: {row['kept_is_fresh']}, kept = reset: {row['kept_is_reset']}"
        )
    times = {mode: [r[mode] for r in rows] for mode in modes}
    summary: dict[str, Any] = {"questions": len(rows)}
    for mode in modes:
        summary[f"{mode}_p50"] = percentile(times[mode], 50)
        summary[f"{mode}_p95"] = percentile(times[mode], 95)
    summary["ratio_p50"] = percentile([b / a for a, b in zip(times["reset"], times["kept"], strict=True)], 50)
    summary["kept_is_fresh"] = sum(r["kept_is_fresh"] for r in rows)
    summary["kept_is_reset"] = sum(r["kept_is_reset"] for r in rows)
    text = "\n".join(
        [
            f"time to first token, {len(rows)} golden prompts, {settings.local_model}, {settings.n_threads} threads",
            "",
            "| context | p50 (s) | p95 (s) |",
            "|---|---|---|",
            f"| reset, whole prompt in one batch (before) | {summary['reset_p50']:.2f} | {summary['reset_p95']:.2f} |",
            f"| system turn evaluated, then the rest | {summary['fresh_p50']:.2f} | {summary['fresh_p95']:.2f} |",
            f"| system turn kept, then the rest (now) | {summary['kept_p50']:.2f} | {summary['kept_p95']:.2f} |",
            "",
            f"kept / reset, median per prompt: {summary['ratio_p50']:.2f}x; same {GEN_TOKENS} tokens kept and "
            f"fresh: {summary['kept_is_fresh']} of {len(rows)}; kept and reset: {summary['kept_is_reset']} of "
            f"{len(rows)}",
        ]
    )
    print("\n" + text)
    write_results("prefix", {"summary": summary, "rows": rows}, text)


if __name__ == "__main__":
    main()
