"""Costs page: what model calls cost today and in this session, by day, feature and model (charts and
tables), and the caps. "This session" is the browser session, which a reload continues (``ui.state``).

Everything shown comes from the cost ledger through ``assistant.accounting.report`` (the same report
`tutor costs` prints). Model names come from servers, so they are shown only inside dataframes and
plain text, never as Markdown or HTML.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from assistant.accounting.budget import CapStatus
from assistant.accounting.ledger import GroupBy, Ledger, utc_midnight
from assistant.accounting.money import format_usd
from assistant.accounting.report import CostReport, cost_report, parse_since
from assistant.errors import TutorError
from evals.history import load_history, scores_over_releases
from evals.suite import Suite
from ui.charts import quality_chart, usage_chart
from ui.state import get_tutor

PERIODS = {"Today (UTC)": "today", "Last 7 days": "7d", "Last 30 days": "30d", "All time": None}
GROUPS: dict[str, GroupBy] = {"By day": "day", "By feature": "feature", "By model": "model"}


def table(report: CostReport) -> list[dict[str, Any]]:
    return [
        {
            report.by: line.key,
            "calls": line.calls,
            "embedding calls": line.embedding_calls,
            "failed": line.failed,
            "prompt tokens": line.prompt_tokens,
            "completion tokens": line.completion_tokens,
            "cached tokens": line.cached_prompt_tokens,
            "embedded tokens": line.embedding_tokens,
            "cost (USD)": line.cost_usd,
            "time (s)": round(line.latency_s, 2),
        }
        for line in [*report.lines, report.total]
    ]


def show_cap(cap: CapStatus) -> None:
    if cap.cap_usd is None:
        st.text(f"{cap.setting}: no cap ({format_usd(cap.spent_usd)} spent). Set it in .env to cap spending.")
        return
    share = min(cap.spent_usd / cap.cap_usd, 1.0) if cap.cap_usd > 0 else 1.0
    st.progress(share)
    st.text(
        f"{cap.setting}=${cap.cap_usd:g}: {format_usd(cap.spent_usd)} spent, "
        f"{format_usd(cap.remaining_usd or 0.0)} left. Calls that would pass it are refused before sending."
    )


def totals(ledger: Ledger, session_id: str) -> None:
    today = cost_report(ledger, by="feature", since=utc_midnight()).total
    session = cost_report(ledger, by="feature", session_id=session_id).total
    cols = st.columns(4)
    cols[0].metric("Spent today (UTC)", format_usd(today.cost_usd))
    cols[1].metric("Tokens today", f"{today.tokens:,}")
    cols[2].metric("Spent this session", format_usd(session.cost_usd))
    cols[3].metric("Tokens this session", f"{session.tokens:,}")


def render() -> None:
    st.title("Costs")
    st.caption(
        "Every chat and embedding call is counted, priced and recorded (counts, prices and timings; "
        "never your text). The local models cost nothing; their tokens and time are still counted."
    )
    try:
        tutor = get_tutor()
        ledger = tutor.ledger
        status = tutor.budget.status()
    except TutorError as exc:
        st.error(str(exc))
        return
    totals(ledger, tutor.session_id)

    st.subheader("Budget")
    show_cap(status.session)
    show_cap(status.daily)

    st.subheader("Breakdown")
    period = st.selectbox("Period", list(PERIODS), index=2)
    value = PERIODS[period]
    since: datetime | None = parse_since(value) if value else None
    rows = ledger.rows(since)
    if rows:
        left, right = st.columns(2)
        left.caption("Tokens per day, by feature")
        left.altair_chart(usage_chart(rows, "tokens"), width="stretch")
        right.caption("Cost per day (USD), by feature")
        right.altair_chart(usage_chart(rows, "cost_usd"), width="stretch")
    for tab, by in zip(st.tabs(list(GROUPS)), GROUPS.values(), strict=True):
        with tab:
            report = cost_report(ledger, by=by, since=since)
            if report.empty:
                st.info(f"No model calls recorded ({period.lower()}).")
            else:
                st.dataframe(table(report), hide_index=True, key=f"costs-{by}", height="content")
    st.caption(f"Prices: USD per million tokens, checked {tutor.prices.checked}; days are UTC days.")
    release_quality()


def release_quality() -> None:
    """The eval suite's scores at each release re-record (``evals/history.jsonl``), to see what a change cost."""
    st.subheader("Answer quality by release")
    try:
        releases = load_history(Suite.load().history_path)
    except TutorError:
        releases = []
    if not releases:
        st.info("No release has been recorded yet: `make evals UPDATE_BASELINE=1` records one.")
        return
    st.altair_chart(quality_chart(scores_over_releases(releases)), width="stretch")
    st.caption(
        f"{len(releases)} release recordings of the golden set, latest on {releases[-1].model}. Wrong-claim rate: "
        "lower is better; every other line: higher is better. `tutor evals report` has the item-by-item detail."
    )


render()
