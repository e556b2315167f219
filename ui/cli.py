"""`tutor`: the command line. The one place that wires assistant, ingest, evals and ui together.

Each command parses its options, builds components from one Settings object and renders the
result (plain text, or JSON with --json). User mistakes become one-line errors, never tracebacks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from assistant.errors import TutorError
from assistant.settings import Settings, load_settings

app = typer.Typer(
    help="roadmap-tutor: a study assistant for becoming a machine-learning engineer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
model_app = typer.Typer(help="Prepare and check the embedded chat model.", no_args_is_help=True)
app.add_typer(model_app, name="model")

T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def run_safely(fn: Callable[[], T]) -> T:
    """Run ``fn``; user-facing errors become one line on stderr and a non-zero exit."""
    try:
        return fn()
    except TutorError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted.", 130)
    raise AssertionError("unreachable")


def settings() -> Settings:
    return run_safely(load_settings)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# ---------------------------------------------------------------------------------------------
@app.command()
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


@app.command()
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


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on (127.0.0.1 only).")] = 8501,
) -> None:
    """Serve the study app on http://127.0.0.1:PORT."""
    app_file = Path(__file__).with_name("app.py")
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_file),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    typer.echo(f"roadmap-tutor is at http://127.0.0.1:{port}  (Ctrl-C to stop)")
    try:
        raise typer.Exit(subprocess.call(cmd))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


# ---------------------------------------------------------------------------------------------
@model_app.command("prepare")
def model_prepare(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if a verified file exists.")] = False,
    which: Annotated[str | None, typer.Option("--model", help="Model name (default: LOCAL_MODEL).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Download, assemble and verify the embedded chat model (first time only)."""
    from assistant.llm.model_files import MODELS, ModelStore
    from ui.progress import ByteProgress

    cfg = settings()
    name = which or cfg.local_model
    if name not in MODELS:
        fail(f"unknown model '{name}'. Choose one of: {', '.join(MODELS)}.")
    spec = MODELS[name]
    store = ModelStore(cfg.models_dir)
    if store.is_ready(spec) and not force:
        path = store.path_for(spec)
    else:
        with ByteProgress(f"assembling {spec.name}", enabled=not as_json) as bar:
            path = run_safely(lambda: store.prepare(spec, force=force, progress=bar.update))
    if as_json:
        emit_json({"model": spec.name, "path": str(path), "sha256": spec.sha256, "verified": True})
    else:
        typer.echo(f"{spec.name}: verified ({spec.sha256[:12]}...) at {path}")


@model_app.command("status")
def model_status(as_json: JsonOpt = False) -> None:
    """Show which embedded models are prepared and verified."""
    from assistant.llm.model_files import MODELS, ModelStore

    cfg = settings()
    store = ModelStore(cfg.models_dir)
    rows = [{"model": n, "ready": store.is_ready(s), "path": str(store.path_for(s))} for n, s in MODELS.items()]
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            typer.echo(f"{row['model']}: {'ready' if row['ready'] else 'not prepared'}  {row['path']}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
