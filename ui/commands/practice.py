"""`tutor quiz`, `tutor flashcards`, `tutor interview`, `tutor review`, `tutor progress`: practice in the terminal."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from ui.common import JsonOpt, emit_json, fail, run_safely, settings
from ui.cost_guard import MaxCostOpt, guard_cost

if TYPE_CHECKING:
    from assistant.practice.models import Feedback, Grade, InterviewQuestion, Question
    from assistant.services import Tutor

TypeOpt = Annotated[Literal["mcq", "true-false", "short"], typer.Option("--type", help="Question type.")]
QuizLevelOpt = Annotated[Literal["beginner", "intermediate", "advanced"] | None, typer.Option(help="Difficulty.")]
LevelOpt = Annotated[Literal["junior", "mid", "senior"], typer.Option(help="The role level to practise for.")]
KindOpt = Annotated[
    Literal["conceptual", "applied", "system-design", "behavioural"] | None,
    typer.Option(help="Question kind (default: a mix)."),
]


def _tutor() -> Tutor:
    from assistant.services import Tutor

    return Tutor(settings())


def _ask(prompt: str) -> str | None:
    """One line from the learner; None when input ends (Ctrl-D, or a closed pipe)."""
    try:
        return str(typer.prompt(prompt, default="", show_default=False, prompt_suffix=" "))
    except typer.Abort:
        typer.echo("")
        return None


def _show_question(i: int, total: int, q: Question) -> None:
    typer.echo(f"\nQ{i}/{total}. {q.stem}")
    for letter, option in zip("ABCD", q.options, strict=False):
        typer.echo(f"  {letter}) {option}")


def _show_grade(q: Question, g: Grade) -> None:
    if g.graded_by == "exact":
        typer.echo("  correct." if g.correct else f"  not quite: the answer is {g.expected}.")
    else:
        typer.echo(f"  score {g.score:.0%}" + (" (pass)" if g.correct else "") + f"; expected: {g.expected}")
        if g.missing:
            typer.echo("  missing: " + "; ".join(g.missing))
    if g.feedback and g.feedback != q.explanation:
        typer.echo(f"  {g.feedback}")
    typer.echo(f"  why: {q.explanation}")
    typer.echo(f"  source: {g.reread}")


def _grade_interactively(tutor: Tutor, q: Question, prompt: str) -> tuple[Grade, float] | None:
    from assistant.errors import TutorError

    started = time.perf_counter()
    while True:
        response = _ask(prompt)
        if response is None:
            return None
        try:
            return tutor.quizzes.grade(q, response), time.perf_counter() - started
        except TutorError as exc:
            typer.echo(f"  {exc}")


def quiz(
    topic: Annotated[
        str | None, typer.Option("--topic", "-t", help="A roadmap topic, e.g. 'gradient descent'.")
    ] = None,
    stage: Annotated[int | None, typer.Option(help="Only use material from this roadmap stage.")] = None,
    n: Annotated[int, typer.Option("--n", min=1, max=20, help="Number of questions.")] = 5,
    qtype: TypeOpt = "mcq",
    level: QuizLevelOpt = None,
    max_cost: MaxCostOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the generated quiz as JSON; do not ask.")] = False,
) -> None:
    """Quiz yourself on a roadmap topic: verified questions from the roadmap, scored and recorded."""
    from assistant.practice.progress import quiz_attempt
    from assistant.practice.quiz import QuizRequest
    from ui.progress import TerminalProgress

    tutor = _tutor()
    request = QuizRequest(topic=topic, stage=stage, n=n, type=qtype, level=level)
    plan = run_safely(lambda: tutor.quizzes.plan(request))
    guard_cost(plan.estimate, max_cost, as_json=as_json, budget=tutor.budget)  # exits 2 before any call if over

    def generate() -> Any:
        with TerminalProgress(enabled=sys.stdout.isatty()) as bar:
            return tutor.quizzes.generate(plan, progress=bar.update, max_cost=max_cost)

    made = run_safely(generate)
    per_q = made.usage.seconds / max(1, made.generated)
    summary = (
        f"{len(made.questions)} verified question(s) on '{made.topic}'; {made.dropped} of {made.generated} drafts "
        f"dropped by verification" + (f" ({_reasons(made.drop_reasons)})" if made.drop_reasons else "")
    )
    typer.echo(summary + f"; {made.usage.seconds:.0f} s ({per_q:.1f} s per draft). {made.note}".rstrip(), err=as_json)
    if as_json:
        emit_json(made.model_dump(mode="json"))
        return
    right = 0.0
    answered = 0
    for i, q in enumerate(made.questions, start=1):
        _show_question(i, len(made.questions), q)
        hint = {"mcq": "Your answer (A-D):", "true-false": "True or false?", "short": "Your answer:"}[q.type]
        graded = _grade_interactively(tutor, q, hint)
        if graded is None:
            typer.echo("quiz stopped; answers so far are saved.")
            break
        grade, seconds = graded
        tutor.progress.record(quiz_attempt(q, grade, seconds=seconds))
        _show_grade(q, grade)
        right += grade.score
        answered += 1
    if answered:
        typer.echo(f"score: {right:g}/{answered} ({right / answered:.0%})")
        due = tutor.progress.scheduled()
        typer.echo(
            f"{due} item(s) in your review schedule; `tutor review` asks what is due, `tutor progress` shows mastery."
        )


def flashcards(
    topic: Annotated[
        str | None, typer.Option("--topic", "-t", help="A roadmap topic, e.g. 'model monitoring'.")
    ] = None,
    stage: Annotated[int | None, typer.Option(help="Only use material from this roadmap stage.")] = None,
    n: Annotated[int, typer.Option("--n", min=1, max=20, help="Number of cards.")] = 5,
    max_cost: MaxCostOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the cards as JSON.")] = False,
) -> None:
    """Make flashcards: a roadmap sentence on the back, a question on the front; due now in `tutor review`."""
    from assistant.practice.flashcards import FlashcardRequest
    from ui.progress import TerminalProgress

    tutor = _tutor()
    request = FlashcardRequest(topic=topic, stage=stage, n=n)

    def make() -> Any:
        with TerminalProgress(enabled=sys.stdout.isatty()) as bar:
            return tutor.flashcards.make(request, progress=bar.update, max_cost=max_cost)

    deck = run_safely(make)
    added = tutor.progress.add_cards(deck.cards)
    summary = (
        f"{len(deck.cards)} flashcard(s) on '{deck.topic}' ({added} new in your review schedule, due now); "
        f"{deck.dropped} of {deck.generated} fronts dropped"
        + (f" ({_reasons(deck.drop_reasons)})" if deck.drop_reasons else "")
        + f"; {deck.usage.seconds:.0f} s. {deck.note}"
    )
    typer.echo(summary.rstrip(), err=as_json)
    if as_json:
        emit_json(deck.model_dump(mode="json"))
        return
    for i, card in enumerate(deck.cards, start=1):
        typer.echo(f"\n{i}. {card.stem}\n   {card.answer}\n   source: {card.citation.label}")
    typer.echo("\n`tutor review` asks them; `tutor export anki` takes them to Anki.")


def _review_card(q: Question) -> Literal["again", "hard", "good", "easy"] | None:
    """A flashcard in the terminal: think of the answer, see the back, rate how it went."""
    if _ask("Think of the answer, then press Enter:") is None:
        return None
    typer.echo(f"  {q.answer}\n  source: {q.citation.label}")
    ratings = {"a": "again", "h": "hard", "g": "good", "e": "easy"}
    while True:
        said = _ask("How did it go? [a]gain, [h]ard, [g]ood, [e]asy:")
        if said is None:
            return None
        if said.strip().lower()[:1] in ratings:
            return ratings[said.strip().lower()[:1]]  # type: ignore[return-value]
        typer.echo("  type a, h, g or e.")


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))


def _show_feedback(f: Feedback) -> None:
    typer.echo(f"  score {f.score:.0%} of the rubric")
    if f.covered:
        typer.echo("  covered: " + "; ".join(f.covered))
    if f.missing:
        typer.echo("  missing: " + "; ".join(f.missing))
    if f.comment:
        typer.echo(f"  {f.comment}")
    typer.echo(f"  follow-up: {f.follow_up}")
    typer.echo("  sources: " + "; ".join(s.label for s in f.sources))


def _mock_one(tutor: Tutor, q: InterviewQuestion, *, review: bool) -> bool:
    """Ask one interview question and give feedback; False when input ended."""
    from assistant.errors import TutorError
    from assistant.practice.progress import interview_attempt

    started = time.perf_counter()
    while True:
        response = _ask("Your answer:")
        if response is None:
            return False
        try:
            feedback = tutor.interviews.feedback(q, response)
            break
        except TutorError as exc:
            typer.echo(f"  {exc}")
    attempt = interview_attempt(q, feedback, response, review=review, seconds=time.perf_counter() - started)
    tutor.progress.record(attempt)
    _show_feedback(feedback)
    return True


def interview(
    level: LevelOpt = "junior",
    topic: Annotated[str | None, typer.Option("--topic", "-t", help="A roadmap topic (default: a spread).")] = None,
    kind: KindOpt = None,
    n: Annotated[int, typer.Option("--n", min=1, max=20, help="Number of questions.")] = 5,
    export: Annotated[
        Path | None, typer.Option(help="Write the questions, rubrics and sources to this .md file.")
    ] = None,
    mock: Annotated[
        bool, typer.Option("--mock", help="Mock interview: one question at a time, with feedback.")
    ] = False,
    max_cost: MaxCostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Practice interview questions grounded in the roadmap, each with a rubric and sources."""
    from assistant.practice.interview import to_markdown
    from ui.progress import TerminalProgress

    if export is not None and export.suffix.lower() != ".md":
        fail(f"--export {export} is not a Markdown file. Fix: give a path ending in .md.")
    tutor = _tutor()
    estimate = run_safely(lambda: tutor.interviews.estimate(level, topic=topic, kind=kind, n=n, mock=mock))
    guard_cost(estimate, max_cost, as_json=as_json, budget=tutor.budget)  # exits 2 before any call if over

    def generate() -> Any:
        with TerminalProgress(enabled=sys.stdout.isatty()) as bar:
            return tutor.interviews.generate(level, topic=topic, kind=kind, n=n, progress=bar.update, max_cost=max_cost)

    made = run_safely(generate)
    if export is not None:
        export.parent.mkdir(parents=True, exist_ok=True)
        export.write_text(to_markdown(made), encoding="utf-8")
    note = (
        f"{len(made.questions)} question(s); {made.dropped} of {made.generated} drafts dropped by verification"
        + (f" ({_reasons(made.drop_reasons)})" if made.drop_reasons else "")
        + f"; {made.usage.seconds:.0f} s."
        + (f" Written to {export}." if export else "")
        + (f" {made.note}" if made.note else "")
    )
    typer.echo(note, err=as_json)
    if as_json:
        emit_json(made.model_dump(mode="json"))
        return
    for i, q in enumerate(made.questions, start=1):
        typer.echo(f"\n{i}. [{q.kind}] {q.question}")
        if mock:
            if not _mock_one(tutor, q, review=False):
                typer.echo("mock interview stopped; answers so far are saved.")
                return
            continue
        typer.echo("   a strong answer covers:")
        for point in q.rubric:
            typer.echo(f"   - {point}")
        typer.echo("   sources: " + "; ".join(s.label for s in q.sources))


def review(
    ahead: Annotated[
        int, typer.Option(min=0, help="Also include items due within this many minutes (practise early).")
    ] = 0,
    limit: Annotated[int, typer.Option(min=1, help="Most items to ask this session.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="List what is due as JSON; do not ask.")] = False,
) -> None:
    """Ask the missed or weak items that spaced repetition says are due, and reschedule them."""
    from assistant.practice.models import InterviewQuestion, Question
    from assistant.practice.progress import quiz_attempt, rated_attempt

    tutor = _tutor()
    store = tutor.progress
    due = run_safely(lambda: store.due(ahead=timedelta(minutes=ahead)))[:limit]
    if as_json:
        emit_json({"learner_id": store.learner_id, "due": [d.model_dump(mode="json") for d in due]})
        return
    if not due:
        nxt = store.next_due()
        when = f"; the next is due {_when(nxt)} (`tutor review --ahead MINUTES` practises early)" if nxt else ""
        typer.echo(f"Nothing is due for review{when}.")
        return
    typer.echo(f"{len(due)} item(s) due for review.")
    for i, item in enumerate(due, start=1):
        if item.kind == "interview":
            iq = InterviewQuestion.model_validate(item.payload)
            typer.echo(f"\n{i}/{len(due)}. [{iq.kind}] {iq.question}")
            if not _mock_one(tutor, iq, review=True):
                break
            continue
        q = Question.model_validate(item.payload)
        _show_question(i, len(due), q)
        if q.type == "flashcard":
            rating = _review_card(q)
            if rating is None:
                break
            store.record(rated_attempt(item, rating, ""))
            typer.echo(f"  next time: {_when(store.due_at(item.item_id))}")
            continue
        graded = _grade_interactively(tutor, q, "Your answer:")
        if graded is None:
            break
        grade, seconds = graded
        tutor.progress.record(quiz_attempt(q, grade, review=True, seconds=seconds))
        _show_grade(q, grade)
    nxt = store.next_due()
    typer.echo(f"next review due {_when(nxt)}." if nxt else "Nothing else is scheduled.")


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    delta = moment - datetime.now(UTC)
    if delta.total_seconds() <= 0:
        return "now"
    minutes = delta.total_seconds() / 60
    if minutes < 90:
        return f"in {minutes:.0f} min"
    if minutes < 36 * 60:
        return f"in {minutes / 60:.0f} h"
    return f"in {minutes / 1440:.0f} days"


def progress(as_json: JsonOpt = False) -> None:
    """Mastery per roadmap stage and topic, reviews due, and what to study next."""
    from assistant.practice.next_steps import next_steps

    tutor = _tutor()
    store = tutor.progress

    def gather() -> dict[str, Any]:
        topics = store.topic_mastery(tutor.roadmap)
        due = store.due()
        return {
            "learner_id": store.learner_id,
            "attempts": len(store.attempts()),
            "due": len(due),
            "stages": store.stage_mastery(tutor.roadmap),
            "topics": topics,
            "next": next_steps(tutor.roadmap, topics, due=len(due)),
        }

    data = run_safely(gather)
    if as_json:
        emit_json({k: [x.model_dump(mode="json") for x in v] if isinstance(v, list) else v for k, v in data.items()})
        return
    typer.echo(f"learner: {data['learner_id']} · {data['attempts']} attempt(s) · {data['due']} due for review")
    if not tutor.roadmap.stages:
        typer.echo(f"(no roadmap found in {tutor.settings.knowledge_dir}; set KNOWLEDGE_DIR)")
    typer.echo("\nmastery by stage:")
    for s in data["stages"]:
        shown = f"{s.mastery:4.0%}" if s.mastery is not None else "   -"
        typer.echo(f"  {s.stage:>2}. {s.title:<45} {shown}  ({s.topics_practised}/{s.topics} topics, {s.items} items)")
    if data["topics"]:
        typer.echo("\nweakest topics:")
        for t in data["topics"][:5]:
            typer.echo(f"  {t.title:<45} {t.mastery:4.0%}  ({t.items} items, {t.attempts} attempts)")
    typer.echo("\nstudy next:")
    for step in data["next"]:
        where = f" — read {step.source}" if step.source else ""
        typer.echo(f"  [{step.kind}] {step.title}{where}: {step.reason}")
