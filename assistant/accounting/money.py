"""One way to show dollar amounts everywhere (answer footers, reports, estimates, budget errors)."""

from __future__ import annotations


def format_usd(amount: float) -> str:
    """``$0``, ``$0.000123`` under a cent (cheap calls stay visible), ``$1.2346`` above."""
    if amount == 0:
        return "$0"
    if abs(amount) < 0.01:
        return f"${amount:.6f}"
    return f"${amount:.4f}"
