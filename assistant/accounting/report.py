"""Spending reports from the ledger: totals by UTC day, feature or model, since a date or duration.

The CLI (`tutor costs`) and the Costs page both render a :class:`CostReport`; neither reads the
ledger itself. Chat calls and embedding calls are counted apart: ``prompt_tokens`` are chat prompt
tokens (as the provider bills them), ``embedding_tokens`` the tokens sent to embedding models.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field, field_validator

from assistant.accounting.ledger import GroupBy, Ledger, utc_midnight
from assistant.errors import TutorError

_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class CostLine(BaseModel):
    key: str = Field(description="the UTC day, the feature, or provider/model")
    calls: int = Field(default=0, description="chat model calls")
    embedding_calls: int = 0
    failed: int = Field(default=0, description="calls that ended in an error (chat and embedding)")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    embedding_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = Field(default=0.0, description="time spent in calls, summed")

    @field_validator("cost_usd", "latency_s")
    @classmethod
    def _rounded(cls, value: float) -> float:
        return round(value, 8)  # sums of floats: no 0.00030000000000000003 in reports

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens + self.embedding_tokens


class CostReport(BaseModel):
    by: GroupBy
    since: datetime | None = None
    session_id: str | None = None
    learner_id: str | None = None
    lines: list[CostLine]
    total: CostLine
    prices_checked: str = Field(default="", description="the date the price table was checked")

    @property
    def empty(self) -> bool:
        return self.total.calls + self.total.embedding_calls == 0


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w``, ``today``, ``2026-11-01`` or an ISO date-time, as a UTC time."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    value = text.strip().lower()
    if value == "today":
        return utc_midnight(now)
    match = _DURATION.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TutorError(
            f"Cannot read --since {text!r}.",
            "use a duration like 7d, 12h, 2w, 'today', or a date like 2026-11-01 (UTC).",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cost_report(
    ledger: Ledger | None,
    *,
    by: GroupBy = "day",
    since: datetime | None = None,
    session_id: str | None = None,
    learner_id: str | None = None,
    prices_checked: str = "",
) -> CostReport:
    """Totals per group and overall; ``ledger`` None (nothing recorded yet) gives an empty report."""
    if ledger is None:
        lines: list[CostLine] = []
        total = CostLine(key="total")
    else:
        lines = [
            CostLine.model_validate(r)
            for r in ledger.totals(by, since=since, session_id=session_id, learner_id=learner_id)
        ]
        overall = ledger.totals(None, since=since, session_id=session_id, learner_id=learner_id)
        total = CostLine.model_validate(overall[0])
    return CostReport(
        by=by,
        since=since,
        session_id=session_id,
        learner_id=learner_id,
        lines=lines,
        total=total,
        prices_checked=prices_checked,
    )
