"""`tutor`: the command line, the one place that wires assistant, ingest, evals and ui together.

This module only registers commands; each lives in ``ui/commands/`` and parses its options, builds
components from one Settings object and renders the result (text, or JSON with --json).
"""

from __future__ import annotations

import typer

from assistant.errors import TutorError
from ui.commands.ask import ask, chat
from ui.commands.costs import costs
from ui.commands.evals import evals_app
from ui.commands.export import export_app
from ui.commands.ingest import ingest
from ui.commands.model import model_app
from ui.commands.practice import flashcards, interview, progress, quiz, review
from ui.commands.serve import serve

app = typer.Typer(
    help="roadmap-tutor: a study assistant for becoming a machine-learning engineer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(ask)
app.command()(chat)
app.command()(costs)
app.command()(ingest)
app.command()(serve)
for practice_command in (quiz, flashcards, interview, review, progress):
    app.command()(practice_command)
app.add_typer(model_app, name="model")
app.add_typer(evals_app, name="evals")
app.add_typer(export_app, name="export")


def main() -> None:
    """Run a command; a user-facing error raised anywhere in it is one line and exit status 2."""
    try:
        app()
    except TutorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        typer.echo("error: interrupted.", err=True)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
