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
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import assistant  # noqa: F401  (offline hygiene first)
from assistant.errors import TutorError
from assistant.practice.models import LETTERS, Quiz
from assistant.practice.quiz import QuizRequest
from assistant.practice.verify import CATCH_ALL
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


def summary(quizzes: list[Quiz]) -> list[str]:
    """Counts a reader checks first: items by type, how often the key is the (strictly) longest option
    (chance is 1 in 4), catch-all options left (none allowed) and why drafts were dropped."""
    items = [q for quiz in quizzes for q in quiz.questions]
    mcq = [q for q in items if q.type == "mcq"]
    longest = sum(
        all(len(q.options[q.answer_index]) > len(o) for i, o in enumerate(q.options) if i != q.answer_index)
        for q in mcq
        if q.answer_index is not None
    )
    catch_all = sum(any(CATCH_ALL.search(o) for o in q.options) for q in mcq)
    reasons: Counter[str] = Counter()
    for quiz in quizzes:
        reasons.update(quiz.drop_reasons)
    drafted = sum(quiz.generated for quiz in quizzes)
    return [
        f"- items: {len(items)} ({len(mcq)} multiple choice, {len(items) - len(mcq)} true/false) "
        f"over {len({quiz.topic for quiz in quizzes})} topics, from {drafted} drafts",
        f"- key is the longest option: {longest} of {len(mcq)} multiple-choice items (chance: 1 in 4)",
        f"- items with a catch-all option: {catch_all}",
        f"- drops: {dict(reasons.most_common())}",
        "",
    ]


def write(out: Path, report: list[str], records: list[dict[str, Any]], quizzes: list[Quiz]) -> None:
    text = [*report[:2], "## Summary", "", *summary(quizzes), *report[2:]]
    out.with_suffix(".md").write_text("\n".join(text) + "\n", encoding="utf-8")
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
    quizzes: list[Quiz] = []
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
            quizzes.append(quiz)
            report += [
                f"## {topic} ({qtype}): {len(quiz.questions)} of {n}, {quiz.generated} drafted, "
                f"dropped {quiz.drop_reasons}, {took:.0f} s",
                *([f"_{quiz.note}_", ""] if quiz.note else [""]),
                *item_lines(quiz),
            ]
            records.append({"topic": topic, "type": qtype, "seconds": round(took, 1), **quiz.model_dump(mode="json")})
            print(f"{topic} ({qtype}): {len(quiz.questions)}/{n} in {took:.0f} s", flush=True)
            write(out, report, records, quizzes)  # after every quiz: a long run stopped early keeps what it made
    write(out, report, records, quizzes)
    print(f"wrote {out}.md and .json: read every item and fill in its 'defect:' line")


if __name__ == "__main__":
    main()
