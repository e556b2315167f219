"""`make bench` / `make bench-quick`: the benchmarks under bench/, one after the other.

    .venv/bin/python -m bench.run [--quick]

Full: ingest (3 runs of knowledge/, 3 synthetic 5,000-chunk runs), retrieval latency at 10,000 and 100,000
chunks, answer latency over every golden question, and our answers beside llama-index's default query engine
on 24 golden questions (about 50 min on 2 cores). Quick (under 5 min): one
knowledge/ ingest run, retrieval at 10,000 chunks and 8 golden questions.
The llama.cpp build comparison (bench/llama_build_bench.py) needs a second install and runs on its own.
"""

from __future__ import annotations

import argparse

from bench import answer_bench, baseline_bench, ingest_bench, retrieval_bench


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under 5 min)")
    args = parser.parse_args(argv)
    if args.quick:
        ingest_bench.main(["--runs", "1", "--synthetic-runs", "0"])
        retrieval_bench.main(["--sizes", "10000", "--queries", "30"])
        answer_bench.main(["--limit", "8"])
    else:
        ingest_bench.main([])
        retrieval_bench.main([])
        answer_bench.main([])
        baseline_bench.main([])


if __name__ == "__main__":
    main()
