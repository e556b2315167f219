"""`tutor ask` and `tutor chat`: one question, or a conversation with follow-ups."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ui.common import JsonOpt, emit_json, run_safely, settings

if TYPE_CHECKING:
    from assistant.llm.base import Message
    from assistant.services import Tutor

HISTORY_TURNS = 4  # user and assistant messages kept for follow-ups
CHAT_HELP = "Type a question, /new to start over, /quit (or Ctrl-D) to leave."


def _stream_answer(tutor: Tutor, question: str, history: list[Message] | None = None) -> str:
    """Stream the draft, then show the checked answer in its place when the checks changed it."""
    from assistant.errors import TutorError
    from ui.render import format_answer_footer, format_sources, replaces_stream

    handle = tutor.answers.ask_stream(question, history)
    shown: list[str] = []
    try:
        for piece in handle:
            shown.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
    except TutorError:
        typer.echo("")  # end the cut draft's line before the error line
        raise
    typer.echo("")
    answer = handle.answer
    assert answer is not None
    if replaces_stream(answer, "".join(shown)):
        typer.echo("\n-- checked against the sources; the answer is --")
        typer.echo(answer.text)
    typer.echo(format_sources(answer))
    typer.echo(format_answer_footer(answer))
    return answer.text


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
            typer.echo("Started a new conversation.")
            continue
        if question in ("/help", "/?"):
            typer.echo(CHAT_HELP)
            continue
        typer.echo("tutor> ", nl=False)
        try:
            text = _stream_answer(tutor, question, history[-HISTORY_TURNS:])
        except TutorError as exc:
            typer.echo(f"error: {exc}", err=True)
            continue
        except KeyboardInterrupt:
            typer.echo("\n(stopped)")
            continue
        history += [Message(role="user", content=question), Message(role="assistant", content=text)]
