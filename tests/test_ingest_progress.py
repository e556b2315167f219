"""The terminal progress bar ingest draws: one bar per phase, with counts and a rate."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

from ui.progress import TerminalProgress


def test_terminal_bar_shows_counts_and_rate_per_phase():
    out = io.StringIO()
    with TerminalProgress(console=Console(file=out, force_terminal=True, width=120)) as bar:
        for done in range(11):
            bar.update("embed", done, 10)
            time.sleep(0.01)  # rich derives the rate from timed samples
        bar.update("read", 3, 3)
    text = out.getvalue()
    assert "embed" in text and "10/10" in text and "read" in text and "3/3" in text
    assert re.search(r"\d+\.\d/s", text)


def test_disabled_bar_prints_nothing():
    out = io.StringIO()
    with TerminalProgress(enabled=False, console=Console(file=out, force_terminal=True)) as bar:
        bar.update("embed", 5, 10)
    assert out.getvalue() == ""
