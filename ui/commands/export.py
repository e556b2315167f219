"""`tutor export`: the learner's practice in other tools' formats (today: an Anki deck)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ui.common import run_safely, settings

export_app = typer.Typer(help="Export your practice items to other study tools.", no_args_is_help=True)


@export_app.command()
def anki(
    stage: Annotated[int | None, typer.Option(help="Only items of this roadmap stage.")] = None,
    missed: Annotated[bool, typer.Option("--missed", help="Only the items you missed or found hard.")] = False,
    out: Annotated[Path, typer.Option(help="The .apkg file to write.")] = Path("roadmap-tutor.apkg"),
) -> None:
    """Write your quiz and interview items, each with its source, as an Anki deck (.apkg).

    Re-exporting updates the cards already imported into Anki (stable note ids) instead of adding copies.
    """
    from assistant.practice.anki import write_apkg
    from assistant.services import Tutor

    tutor = Tutor(settings())
    store = tutor.progress
    items = run_safely(lambda: store.items(stage=stage, missed=missed))
    count = run_safely(lambda: write_apkg(items, store.learner_id, out))
    which = " missed" if missed else ""
    where = f" from stage {stage}" if stage is not None else ""
    typer.echo(f"wrote {count}{which} card(s){where} to {out} (import it in Anki: File > Import)")
