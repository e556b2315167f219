"""Spending caps checked before a call is sent, and where spending stands against them."""

from __future__ import annotations

from pydantic import BaseModel

from assistant.accounting.ledger import Ledger, utc_midnight
from assistant.accounting.money import format_usd
from assistant.errors import BudgetExceededError


class CapStatus(BaseModel):
    setting: str  # the variable that sets the cap
    cap_usd: float | None  # None: no cap
    spent_usd: float

    @property
    def remaining_usd(self) -> float | None:
        return None if self.cap_usd is None else max(self.cap_usd - self.spent_usd, 0.0)


class BudgetStatus(BaseModel):
    session: CapStatus
    daily: CapStatus  # the current UTC day


class Budget:
    def __init__(self, ledger: Ledger, *, session_id: str, session_cap: float | None, daily_cap: float | None) -> None:
        self.ledger = ledger
        self.session_id = session_id
        self.session_cap = session_cap
        self.daily_cap = daily_cap

    def status(self) -> BudgetStatus:
        return BudgetStatus(
            session=CapStatus(
                setting="SESSION_BUDGET_USD",
                cap_usd=self.session_cap,
                spent_usd=self.ledger.spent(session_id=self.session_id),
            ),
            daily=CapStatus(
                setting="DAILY_BUDGET_USD", cap_usd=self.daily_cap, spent_usd=self.ledger.spent(since=utc_midnight())
            ),
        )

    def check(self, estimate_usd: float) -> None:
        """Raise if spending ``estimate_usd`` more would break a cap. Free calls always pass."""
        if estimate_usd <= 0:
            return
        if self.session_cap is not None:
            spent = self.ledger.spent(session_id=self.session_id)
            if spent + estimate_usd > self.session_cap:
                raise BudgetExceededError(
                    f"Refused before sending: this call (about {format_usd(estimate_usd)}) would pass the "
                    f"session cap SESSION_BUDGET_USD=${self.session_cap:g} (spent {format_usd(spent)}).",
                    "raise SESSION_BUDGET_USD in .env, or start a new session.",
                )
        if self.daily_cap is not None:
            spent = self.ledger.spent(since=utc_midnight())
            if spent + estimate_usd > self.daily_cap:
                raise BudgetExceededError(
                    f"Refused before sending: this call (about {format_usd(estimate_usd)}) would pass the "
                    f"daily cap DAILY_BUDGET_USD=${self.daily_cap:g} (spent {format_usd(spent)} today, UTC).",
                    "raise DAILY_BUDGET_USD in .env, or wait until tomorrow (UTC).",
                )
