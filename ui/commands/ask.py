"""`tutor ask` and `tutor chat`: one question, or a conversation with follow-ups."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ui.common import JsonOpt, emit_json, run_safely, settings

if TYPE_CHECKING:
    from assistant.llm.base import Message
    from assistant.rag.answer import Answer, AnswerStream
    from assistant.services import Tutor

HISTORY_TURNS = 4  # user and assistant messages kept for follow-ups
CHAT_HELP = "Type a question, more (or /more) to continue a cut answer, /new to start over, /quit (or Ctrl-D) to leave."
MORE = ("more", "/more")


def _show_stream(handle: AnswerStream, *, can_continue: bool = False) -> Answer:
    """Stream the draft, then show the checked answer in its place when the checks changed it.

    A cut answer gets a notice under it; a stream that breaks off keeps what it showed, marked as interrupted,
    and its error goes on (one line on stderr from the caller)."""
    from assistant.errors import TutorError
    from ui.render import (
        format_answer_footer,
        format_cut_notice,
        format_interrupted,
        format_sources,
        replaces_stream,
        split_key_points,
    )

    shown: list[str] = []
    try:
        for piece in handle:
            shown.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
    except TutorError as exc:
        typer.echo("")  # end the cut draft's line before the marker and the error line
        if "".join(shown).strip():
            typer.echo(format_interrupted(exc))
        raise
    typer.echo("")
    answer = handle.answer
    assert answer is not None
    body, points = split_key_points(answer)
    if replaces_stream(answer, "".join(shown)):
        typer.echo("\n-- checked against the sources; the answer is --")
        typer.echo(body)
    if points:
        typer.echo(f"\n{points}")
    notice = format_cut_notice(answer, can_continue=can_continue)
    if notice:
        typer.echo(notice)
    typer.echo(format_sources(answer))
    typer.echo(format_answer_footer(answer))
    return answer


def _stream_answer(tutor: Tutor, question: str, history: list[Message] | None = None) -> str:
    """Stream one answer to ``question`` (see ``_show_stream``); its checked text."""
    return _show_stream(tutor.answers.ask_stream(question, history)).text


def ask(
    question: Annotated[str, typer.Argument(help="Your question about the roadmap.")],
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the roadmap, with numbered citations and the tokens used."""
    from assistant.services import Tutor

    tutor = Tutor(settings())
    if as_json:
        answer = run_safely(lambda: tutor.answers.ask(question))
        emit_json(answer.model_dump(mode="json"))
        return
    run_safely(lambda: _stream_answer(tutor, question))


def chat() -> None:
    """Talk with the tutor: follow-up questions ("which of those ...?") keep the thread of the conversation."""
    from assistant.errors import TutorError
    from assistant.llm.base import Message
    from assistant.services import Tutor

    tutor = Tutor(settings())
    history: list[Message] = []
    last: Answer | None = None  # the last answer, which `more` continues when it was cut
    typer.echo(CHAT_HELP)
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return
        if not question:
            continue
        if question in ("/quit", "/exit", "/q"):
            return
        if question in ("/new", "/reset"):
            history.clear()
            last = None
            typer.echo("Started a new conversation.")
            continue
        if question in ("/help", "/?"):
            typer.echo(CHAT_HELP)
            continue
        wants_more = question.lower().rstrip(".!") in MORE
        can_continue = last is not None and last.can_continue
        if wants_more and not can_continue and question.startswith("/"):
            typer.echo("Nothing to continue: the last answer was not cut off.")
            continue
        more = wants_more and can_continue  # otherwise "more" is asked as a question ("tell me more")
        typer.echo("tutor> ", nl=False)
        try:
            if more:
                assert last is not None
                answer = _show_stream(tutor.answers.continue_stream(last), can_continue=True)
            else:
                answer = _show_stream(tutor.answers.ask_stream(question, history[-HISTORY_TURNS:]), can_continue=True)
        except TutorError as exc:
            typer.echo(f"error: {exc}", err=True)
            last = last if more else None  # a failed `more` can be asked again
            continue
        except KeyboardInterrupt:
            typer.echo("\n(stopped)")
            continue
        last = answer
        if not more:
            history += [Message(role="user", content=question), Message(role="assistant", content=answer.text)]
        elif not answer.declined and history and history[-1].role == "assistant":
            # the continued answer is one turn: a follow-up sees all of it
            history[-1] = Message(role="assistant", content=f"{history[-1].content} {answer.text}")
