"""`tutor ingest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ui.common import JsonOpt, emit_json, run_safely, settings


def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to ingest (default: knowledge/).")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and start over.")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait if another ingest holds the lock.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Ingest documents into the index. Unchanged documents are skipped; removed ones are deleted."""
    from assistant.embedding.minilm import load_embedder
    from assistant.vectorstore.chroma import open_client
    from ingest.pipeline import Ingestor
    from ui.progress import TerminalProgress

    cfg = settings()
    targets = paths or [cfg.knowledge_dir]

    def go() -> Any:
        ingestor = Ingestor(cfg, open_client(cfg), lambda: load_embedder(cfg.embedding_model), lock_timeout_s=wait)
        with TerminalProgress(enabled=not as_json) as progress:
            return ingestor.run(targets, rebuild=rebuild, progress=progress.update)

    report = run_safely(go)
    if as_json:
        emit_json(report.model_dump(mode="json"))
    else:
        typer.echo(report.summary())
    if not report.ingested_anything:
        raise typer.Exit(1)
