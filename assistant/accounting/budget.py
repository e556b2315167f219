"""Spending caps checked before a call is sent."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.accounting.ledger import Ledger
from assistant.errors import BudgetExceededError


class Budget:
    def __init__(self, ledger: Ledger, *, session_id: str, session_cap: float | None, daily_cap: float | None) -> None:
        self.ledger = ledger
        self.session_id = session_id
        self.session_cap = session_cap
        self.daily_cap = daily_cap

    def check(self, estimate_usd: float) -> None:
        """Raise if spending ``estimate_usd`` more would break a cap. Free calls always pass."""
        if estimate_usd <= 0:
            return
        if self.session_cap is not None:
            spent = self.ledger.spent(session_id=self.session_id)
            if spent + estimate_usd > self.session_cap:
                raise BudgetExceededError(
                    f"Refused before sending: this call (about ${estimate_usd:.4f}) would pass the "
                    f"session cap SESSION_BUDGET_USD=${self.session_cap:g} (spent ${spent:.4f}).",
                    "raise SESSION_BUDGET_USD in .env, or start a new session.",
                )
        if self.daily_cap is not None:
            midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            spent = self.ledger.spent(since=midnight)
            if spent + estimate_usd > self.daily_cap:
                raise BudgetExceededError(
                    f"Refused before sending: this call (about ${estimate_usd:.4f}) would pass the "
                    f"daily cap DAILY_BUDGET_USD=${self.daily_cap:g} (spent ${spent:.4f} today, UTC).",
                    "raise DAILY_BUDGET_USD in .env, or wait until tomorrow (UTC).",
                )
