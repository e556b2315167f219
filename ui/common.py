"""Helpers shared by the `tutor` commands: settings, one-line errors, JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from assistant.errors import TutorError
from assistant.settings import Settings, load_settings

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
