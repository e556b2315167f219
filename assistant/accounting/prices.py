"""The price table: USD per million tokens, kept as data with the date it was checked.

The shipped table (``prices.json``) can be extended or overridden by a user JSON file of the same
shape (``PRICE_FILE``). Local models cost nothing. An unknown paid model is priced at zero with a
single warning, so a missing entry is visible without stopping work.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ValidationError

from assistant.errors import SettingsError
from assistant.llm.base import Usage

log = logging.getLogger(__name__)


class Price(BaseModel):
    input: float
    cached_input: float
    output: float


class PriceFile(BaseModel):
    checked: str = "unknown"
    source: str = ""
    models: dict[str, Price]


def _read(path: Path | None) -> PriceFile:
    try:
        if path is None:
            text = resources.files("assistant.accounting").joinpath("prices.json").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        return PriceFile.model_validate(json.loads(text))
    except (OSError, ValueError, ValidationError) as exc:
        raise SettingsError(
            f"Cannot read the price file {path}: {str(exc).splitlines()[0]}.",
            "fix PRICE_FILE (same shape as assistant/accounting/prices.json).",
        ) from None


class PriceTable:
    def __init__(self, override_file: Path | None = None) -> None:
        base = _read(None)
        self.checked = base.checked
        self.source = base.source
        self.models = dict(base.models)
        if override_file is not None:
            extra = _read(override_file)
            self.models.update(extra.models)
            self.checked = extra.checked if extra.checked != "unknown" else self.checked
        self._warned: set[str] = set()

    def lookup(self, provider: str, model: str) -> Price | None:
        if provider == "local":
            return Price(input=0, cached_input=0, output=0)
        if model in self.models:
            return self.models[model]
        # Dated snapshots ("gpt-4o-mini-2024-07-18") share their family's price.
        family = max((m for m in self.models if model.startswith(m + "-")), key=len, default=None)
        return self.models[family] if family else None

    def cost(self, provider: str, model: str, usage: Usage) -> float:
        price = self.lookup(provider, model)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                log.warning("No price known for model %r: counted as $0. Add it to PRICE_FILE.", model)
            return 0.0
        cached = min(usage.cached_prompt_tokens, usage.prompt_tokens)
        return (
            (usage.prompt_tokens - cached) * price.input
            + cached * price.cached_input
            + usage.completion_tokens * price.output
        ) / 1_000_000
