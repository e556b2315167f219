"""`tutor serve`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer


def serve(port: Annotated[int, typer.Option(help="Port to listen on (127.0.0.1 only).")] = 8501) -> None:
    """Serve the study app on http://127.0.0.1:PORT."""
    app_file = Path(__file__).resolve().parent.parent / "app.py"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app_file),
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",  # no "Deploy" button
    ]  # fmt: skip
    typer.echo(f"roadmap-tutor is at http://127.0.0.1:{port}  (Ctrl-C to stop)", err=True)
    sys.stdout.flush()
    # Streamlit replaces this process, so a signal to `tutor serve` (Ctrl-C, a supervisor's stop) reaches the
    # server itself and no orphan is left listening on the port.
    os.execv(sys.executable, cmd)
