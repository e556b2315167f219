"""llama.cpp builds side by side: prompt and generation tokens/s of two llama-cpp-python installs on one model.

    .venv/bin/python -m bench.llama_build_bench --other /tmp/llama-native [--runs 3] [--prompt-tokens 800]

Each run is a fresh child process per build, the builds alternating (A B A B ...), so both see the same
machine state; a run loads the model (not timed), evaluates a prompt of about ``--prompt-tokens`` tokens and
generates ``--gen-tokens`` tokens greedily, timing each phase. ``--other`` is a folder made with
``pip install --target DIR llama-cpp-python`` under other CMAKE_ARGS; the baseline is the project's own
install. Printed as a table with the ratio other/baseline; written to bench/results/llama-build-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
MODEL = REPO / "data" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

CHILD = r"""
import json, sys, time
import llama_cpp
from llama_cpp import Llama
model, n_prompt, n_gen, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
llm = Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
text = open(sys.argv[5], encoding="utf-8").read()
tokens = llm.tokenize(text.encode())[:n_prompt]
t0 = time.perf_counter()
llm.eval(tokens)
t1 = time.perf_counter()
out = 0
for tok in llm.generate([], temp=0.0, reset=False):
    out += 1
    if out >= n_gen:
        break
t2 = time.perf_counter()
info = llama_cpp.llama_print_system_info().decode()
print(json.dumps({"prompt_tokens": len(tokens), "prompt_s": t1 - t0, "gen_tokens": out, "gen_s": t2 - t1,
                  "system_info": info, "llama_cpp": llama_cpp.__version__}))
"""


def _run(pythonpath: str | None, args: argparse.Namespace, text_file: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, "-c", CHILD, str(args.model), str(args.prompt_tokens), str(args.gen_tokens)]
    cmd += [str(args.threads), str(text_file)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _rate(runs: list[dict[str, Any]], tokens: str, seconds: str) -> float:
    return statistics.median(r[tokens] / r[seconds] for r in runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", required=True, help="folder of the other llama-cpp-python install")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=800)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--model", type=Path, default=MODEL)
    args = parser.parse_args(argv)
    if not args.model.is_file():
        sys.exit(f"error: {args.model} is missing. Fix: run `make model` first.")
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "knowledge").glob("*.md")))
    text_file = RESULTS / ".bench-prompt.txt"
    RESULTS.mkdir(parents=True, exist_ok=True)
    text_file.write_text(text, encoding="utf-8")
    builds: dict[str, list[dict[str, Any]]] = {"baseline": [], "other": []}
    for i in range(args.runs):
        for name, path in (("baseline", None), ("other", args.other)):
            result = _run(path, args, text_file)
            builds[name].append(result)
            print(
                f"run {i + 1}/{args.runs} {name}: {json.dumps({k: v for k, v in result.items() if k != 'system_info'})}"
            )
    text_file.unlink(missing_ok=True)
    ok = {name: [r for r in runs if "error" not in r] for name, runs in builds.items()}
    rows = []
    for name, runs in ok.items():
        if not runs:
            rows.append((name, None, None))
            continue
        rows.append((name, _rate(runs, "prompt_tokens", "prompt_s"), _rate(runs, "gen_tokens", "gen_s")))
    print(f"\n{'build':<10} {'prompt tok/s (median)':>22} {'gen tok/s (median)':>20}")
    for name, p, g in rows:
        print(f"{name:<10} {p or 0:>22.1f} {g or 0:>20.1f}")
    if all(p for _, p, _ in rows):
        (_, bp, bg), (_, op, og) = rows
        print(f"{'ratio':<10} {op / bp:>21.2f}x {og / bg:>19.2f}x")
    for name, runs in ok.items():
        if runs:
            print(f"{name}: {runs[0]['system_info']}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"llama-build-{stamp}.json"
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor()}
    out.write_text(
        json.dumps(
            {"machine": machine, "args": vars(args) | {"model": str(args.model)}, "runs": builds}, indent=1, default=str
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"written: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
