"""Practice-item audit: generate quiz items over many roadmap topics on the configured model, for a person
to read and label every one.

    .venv/bin/python -m bench.practice_audit --mcq 8 --tf 3          # default topics, ~1-2 h on 2 cores
    .venv/bin/python -m bench.practice_audit --topics "MLOps" "calculus" --mcq 2 --tf 0

Writes ``bench/results/practice-audit-<time>.md`` (every item: question, options, key, evidence, source, and a
``defect:`` line to fill in) and a ``.json`` twin with the same items and each quiz's drop reasons. Not run in
CI: it calls the real model and its output is for reading, not asserting.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import assistant  # noqa: F401  (offline hygiene first)
from assistant.errors import TutorError
from assistant.practice.models import LETTERS, Quiz
from assistant.practice.quiz import QuizRequest
from assistant.services import Tutor
from assistant.settings import load_settings

RESULTS = Path(__file__).parent / "results"
TOPICS = [
    "gradient descent", "linear algebra", "probability", "data leakage", "feature engineering",
    "bias-variance trade-off", "regularisation", "cross-validation", "transformers", "MLOps",
    "model monitoring", "retrieval-augmented generation",
]  # fmt: skip


def item_lines(quiz: Quiz) -> list[str]:
    lines: list[str] = []
    for q in quiz.questions:
        lines.append(f"### [{q.type}] {q.stem}")
        lines += [
            f"- {LETTERS[i]}) {o}" + ("  **(key)**" if i == q.answer_index else "") for i, o in enumerate(q.options)
        ]
        if not q.options:
            lines.append(f"- key: {q.answer}")
        lines += [f"- evidence: {q.citation.evidence}", f"- source: {q.citation.label}", "- defect: ", ""]
    return lines


def write(out: Path, report: list[str], records: list[dict[str, Any]]) -> None:
    out.with_suffix(".md").write_text("\n".join(report) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topics", nargs="+", default=TOPICS)
    parser.add_argument("--mcq", type=int, default=6, help="multiple-choice items per topic")
    parser.add_argument("--tf", type=int, default=2, help="true/false items per topic")
    args = parser.parse_args(argv)
    tutor = Tutor(load_settings())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    settings = tutor.settings
    model = settings.local_model if settings.provider == "local" else settings.chat_model
    report: list[str] = [f"# Practice audit {stamp} ({settings.provider}: {model})", ""]
    records: list[dict[str, Any]] = []
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"practice-audit-{stamp}"
    for topic in args.topics:
        for qtype, n in (("mcq", args.mcq), ("true-false", args.tf)):
            if n <= 0:
                continue
            started = time.perf_counter()
            try:
                quiz = tutor.quizzes.make(QuizRequest(topic=topic, n=n, type=qtype))  # type: ignore[arg-type]
            except TutorError as exc:
                report += [f"## {topic} ({qtype}): no items: {exc}", ""]
                records.append({"topic": topic, "type": qtype, "error": str(exc)})
                continue
            took = time.perf_counter() - started
            report += [
                f"## {topic} ({qtype}): {len(quiz.questions)} of {n}, {quiz.generated} drafted, "
                f"dropped {quiz.drop_reasons}, {took:.0f} s",
                *([f"_{quiz.note}_", ""] if quiz.note else [""]),
                *item_lines(quiz),
            ]
            records.append({"topic": topic, "type": qtype, "seconds": round(took, 1), **quiz.model_dump(mode="json")})
            print(f"{topic} ({qtype}): {len(quiz.questions)}/{n} in {took:.0f} s", flush=True)
            write(out, report, records)  # after every quiz: a long run stopped early keeps what it made
    write(out, report, records)
    print(f"wrote {out}.md and .json: read every item and fill in its 'defect:' line")


if __name__ == "__main__":
    main()
