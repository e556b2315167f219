"""Known failures (``known_failures.yaml``): item failures of the committed recording that are understood and
tracked for a fix.

The file maps metric -> item id -> the item's value in the recording (rounded to 3 places). A per-item
threshold failure whose every failing item is listed with that value is *known*: the replay reports it but
still passes. Anything else fails: a new failing item, another value, a failing mean, and a listed entry that
no longer fails (the fix landed: take it out of the file, so the list stays true).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from assistant.errors import TutorError
from evals.thresholds import Failure, Row

FILE = "known_failures.yaml"


class KnownFailures(BaseModel):
    entries: dict[str, dict[str, float]] = {}

    @classmethod
    def load(cls, suite_root: Path) -> KnownFailures:
        path = suite_root / FILE
        if not path.is_file():
            return cls()
        try:
            return cls(entries=yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except (yaml.YAMLError, ValidationError) as exc:
            raise TutorError(
                f"{path} is invalid: {str(exc).splitlines()[0]}.", "map metric -> item -> value."
            ) from None

    def covers(self, metric: str, row: Row) -> bool:
        value = self.entries.get(metric, {}).get(row.item)
        return value is not None and row.value is not None and round(row.value, 3) == value

    def split(self, failures: list[Failure]) -> tuple[list[Failure], list[Failure]]:
        """(unexpected failures, known ones); listed entries that no longer fail become unexpected failures."""
        unexpected: list[Failure] = []
        known: list[Failure] = []
        failing: set[tuple[str, str]] = set()
        for failure in failures:
            if failure.per_item and failure.rows and all(self.covers(failure.metric, r) for r in failure.rows):
                known.append(failure.model_copy(update={"check": "known"}))
            else:
                unexpected.append(failure)
            if failure.per_item:
                failing |= {(failure.metric, r.item) for r in failure.rows}
        fixed = [f"{m}:{i}" for m, items in self.entries.items() for i in items if (m, i) not in failing]
        if fixed:
            unexpected.append(
                Failure(
                    check="known",
                    message=f"listed in {FILE} but no longer failing: {', '.join(fixed)}; take them out of {FILE}",
                )
            )
        return unexpected, known

    @staticmethod
    def of(failures: list[Failure]) -> dict[str, dict[str, float]]:
        """The known-failures mapping that would cover these per-item failures (to write the file)."""
        out: dict[str, dict[str, float]] = {}
        for failure in failures:
            if failure.per_item:
                for row in failure.rows:
                    if row.value is not None:
                        out.setdefault(failure.metric, {})[row.item] = round(row.value, 3)
        return out
