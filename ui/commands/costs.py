"""`tutor costs`: what the model calls cost, from the ledger, by day, feature or model."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, cast

import typer

from ui.common import JsonOpt, emit_json, run_safely, settings

if TYPE_CHECKING:
    from assistant.accounting.budget import BudgetStatus
    from assistant.accounting.ledger import GroupBy
    from assistant.accounting.report import CostLine, CostReport


class By(StrEnum):
    day = "day"
    feature = "feature"
    model = "model"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


ByOpt = Annotated[By, typer.Option("--by", help="Group rows by UTC day, feature or model.")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Only calls since then: 7d, 12h, 2w, today, or a date like 2026-11-01 (UTC)."),
]
CSV_FIELDS = [
    "calls", "embedding_calls", "failed", "prompt_tokens", "completion_tokens", "cached_prompt_tokens",
    "embedding_tokens", "cost_usd", "latency_s",
]  # fmt: skip


def costs(since: SinceOpt = None, by: ByOpt = By.day, fmt: FormatOpt = Format.table, as_json: JsonOpt = False) -> None:
    """Show tokens and dollars spent on model calls (chat and embeddings), from the cost ledger."""
    from assistant.accounting.budget import Budget
    from assistant.accounting.ledger import Ledger
    from assistant.accounting.prices import PriceTable
    from assistant.accounting.report import cost_report, parse_since

    cfg = settings()

    def build() -> tuple[CostReport, BudgetStatus | None]:
        start = parse_since(since) if since else None
        ledger = Ledger.if_exists(cfg.ledger_path)
        group = cast("GroupBy", by.value)
        report = cost_report(ledger, by=group, since=start, prices_checked=PriceTable(cfg.price_file).checked)
        budget = None
        if ledger is not None:
            caps = Budget(ledger, session_id="", session_cap=None, daily_cap=cfg.daily_budget_usd)
            budget = caps.status()
        return report, budget

    report, budget = run_safely(build)
    if as_json or fmt is Format.json:
        emit_json(report.model_dump(mode="json"))
    elif fmt is Format.csv:
        write_csv(report)
    else:
        print_table(report, budget, ledger=None if budget is not None else str(cfg.ledger_path))


def _cell(value: str) -> str:
    """Keep spreadsheet apps from running a model name as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(report: CostReport) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([report.by, *CSV_FIELDS])
    for line in report.lines:
        data = line.model_dump()
        writer.writerow([_cell(line.key), *(data[f] for f in CSV_FIELDS)])


def print_table(report: CostReport, budget: BudgetStatus | None, ledger: str | None = None) -> None:
    """``ledger``: the ledger path when none exists there yet (said, so a mistyped DATA_DIR shows)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from assistant.accounting.money import format_usd

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    since = f" since {report.since:%Y-%m-%d %H:%M} UTC" if report.since else ""
    if report.empty:
        typer.echo(f"No model calls recorded{since}" + (f" (no ledger at {ledger} yet)." if ledger else "."))
        return
    table = Table(title=Text(f"Model costs by {report.by}{since}"), title_justify="left")
    table.add_column(Text(report.by), min_width=10, overflow="fold")
    for name in ("calls", "failed", "prompt tok", "completion tok", "cached tok", "embedded tok", "cost", "time"):
        table.add_column(Text(name), justify="right")

    def row(line: CostLine) -> list[Text]:
        calls = f"{line.calls:,}" + (f" +{line.embedding_calls:,} emb" if line.embedding_calls else "")
        values = [
            calls,
            f"{line.failed:,}",
            f"{line.prompt_tokens:,}",
            f"{line.completion_tokens:,}",
            f"{line.cached_prompt_tokens:,}",
            f"{line.embedding_tokens:,}",
            format_usd(line.cost_usd),
            f"{line.latency_s:,.1f} s",
        ]
        # Text(), never a markup string: keys can be model names chosen by a server.
        return [Text(line.key), *(Text(v) for v in values)]

    for line in report.lines:
        table.add_row(*row(line))
    table.add_section()
    table.add_row(*row(report.total.model_copy(update={"key": "total"})))
    console.print(table)
    notes = [f"prices checked {report.prices_checked}" if report.prices_checked else ""]
    if budget is not None and budget.daily.cap_usd is not None:
        notes.append(
            f"daily cap {budget.daily.setting}=${budget.daily.cap_usd:g}: "
            f"{format_usd(budget.daily.spent_usd)} spent today (UTC)"
        )
    typer.echo(" · ".join(n for n in notes if n))
