"""`tutor ask`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ui.common import JsonOpt, emit_json, run_safely, settings


def ask(
    question: Annotated[str, typer.Argument(help="Your question about the roadmap.")],
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the roadmap, with numbered citations and the tokens used."""
    from assistant.services import Tutor
    from ui.render import format_answer_footer, format_sources

    tutor = Tutor(settings())
    if as_json:
        answer = run_safely(lambda: tutor.answers.ask(question))
        emit_json(answer.model_dump(mode="json"))
        return

    def stream() -> None:
        handle = tutor.answers.ask_stream(question)
        for piece in handle:
            sys.stdout.write(piece)
            sys.stdout.flush()
        typer.echo("")
        assert handle.answer is not None
        typer.echo(format_sources(handle.answer))
        typer.echo(format_answer_footer(handle.answer))

    run_safely(stream)
