"""The estimate-first guard for batch commands (quiz generation, eval runs, paid ingestion).

A command builds a :class:`~assistant.accounting.estimate.CostEstimate` before its first model call,
then calls :func:`guard_cost`: the estimate is printed (to stderr when stdout carries JSON) and the
command stops with a one-line error, exit 2, when it is over ``--max-cost``. Nothing is sent then::

    from ui.cost_guard import MaxCostOpt, guard_cost

    def quiz(..., max_cost: MaxCostOpt = None, as_json: JsonOpt = False) -> None:
        estimate = run_safely(lambda: build_the_estimate(...))
        guard_cost(estimate, max_cost, as_json=as_json, budget=tutor.budget)
        ...  # only now make the calls
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ui.common import run_safely

if TYPE_CHECKING:
    from assistant.accounting.budget import Budget
    from assistant.accounting.estimate import CostEstimate

MaxCostOpt = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        min=0,
        metavar="USD",
        help="Print the estimated cost first and stop before any model call if it is over this many dollars.",
    ),
]


def guard_cost(
    estimate: CostEstimate, max_cost: float | None, *, as_json: bool = False, budget: Budget | None = None
) -> None:
    """Show ``estimate``; exit 2 (nothing sent) when it is over ``max_cost``. Warns when a cap is near."""
    from assistant.accounting.estimate import budget_note, enforce_max_cost

    typer.echo(estimate.summary(), err=as_json)
    if budget is not None:
        note = budget_note(estimate, budget.status())
        if note:
            typer.echo(note, err=True)
    run_safely(lambda: enforce_max_cost(estimate, max_cost))
