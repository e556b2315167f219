"""Prompt-prefix reuse in llama.cpp: time to first token with the context reset before every call (what the
local model did until 2026-12-07) against keeping it, so llama.cpp evaluates only what differs from the
previous prompt (the system prompt and the "Sources:" frame are the same for every answer).

    .venv/bin/python -m bench.prefix_bench [--limit 12]

One model context; for each golden question the pipeline's messages (eval index, no model call) are sent twice,
side by side in alternating order: once after ``reset()``, once after the previous question's call. Each run
generates 24 tokens. Reports time to first token p50/p95 for both, the ratio, and whether the 24 tokens are the
same both ways. Results in bench/results/prefix-<time>.json and .md (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from typing import Any

import assistant  # noqa: F401  (offline hygiene first)
from assistant.settings import load_settings
from bench.answer_bench import RESULTS, percentile

GEN_TOKENS = 24


def first_token(llm: Any, messages: list[dict[str, str]], *, reset: bool, seed: int) -> tuple[float, str]:
    """Seconds to the first streamed token, and the text of GEN_TOKENS tokens."""
    if reset:
        llm.reset()
    start = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    stream = llm.create_chat_completion(
        messages=messages, stream=True, max_tokens=GEN_TOKENS, temperature=0.1, seed=seed, repeat_penalty=1.1
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
    prompts = [[m.model_dump() for m in tutor.answers.prepare(i.question)[1]] for i in items]
    prompts = [p for p in prompts if p]
    path = ModelStore(settings.models_dir).verified_path(MODELS[settings.local_model])
    llm = Llama(str(path), n_ctx=settings.n_ctx, n_threads=settings.n_threads, verbose=False)
    first_token(llm, prompts[0], reset=True, seed=7)  # warm
    rows: list[dict[str, Any]] = []
    previous = prompts[-1]  # the first prompt follows another question, never itself
    for n, messages in enumerate(prompts, start=1):
        row: dict[str, Any] = {}
        for mode in ("reset", "reuse") if n % 2 else ("reuse", "reset"):
            if mode == "reuse":  # the context holds the previous question's prompt, as in a session
                first_token(llm, previous, reset=True, seed=7)
            row[mode], row[f"{mode}_text"] = first_token(llm, messages, reset=mode == "reset", seed=7)
        row["same_text"] = row["reset_text"] == row["reuse_text"]
        rows.append(row)
        previous = messages
        print(f"{n}/{len(prompts)}: reset {row['reset']:.2f} s, reuse {row['reuse']:.2f} s, same: {row['same_text']}")
    reset = [r["reset"] for r in rows]
    reuse = [r["reuse"] for r in rows]
    summary = {
        "questions": len(rows),
        "reset_p50": percentile(reset, 50),
        "reset_p95": percentile(reset, 95),
        "reuse_p50": percentile(reuse, 50),
        "reuse_p95": percentile(reuse, 95),
        "ratio_p50": percentile([b / a for a, b in zip(reset, reuse, strict=True)], 50),
        "same_text": sum(r["same_text"] for r in rows),
    }
    text = "\n".join(
        [
            f"time to first token, {len(rows)} golden prompts, {settings.local_model}, {settings.n_threads} threads",
            "",
            "| context | p50 (s) | p95 (s) |",
            "|---|---|---|",
            f"| reset before each call | {summary['reset_p50']:.2f} | {summary['reset_p95']:.2f} |",
            f"| kept (prefix reused) | {summary['reuse_p50']:.2f} | {summary['reuse_p95']:.2f} |",
            "",
            f"reuse / reset, median per prompt: {summary['ratio_p50']:.2f}x; "
            f"same {GEN_TOKENS} tokens both ways: {summary['same_text']} of {len(rows)}",
        ]
    )
    print("\n" + text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"prefix-{stamp}.json").write_text(json.dumps({"machine": machine, "summary": summary, "rows": rows}))
    (RESULTS / f"prefix-{stamp}.md").write_text(text + "\n")
    print(f"written: bench/results/prefix-{stamp}.json")


if __name__ == "__main__":
    main()
