"""The golden question set: one pydantic model per item, loaded from ``<suite>/golden/*.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.errors import TutorError
from assistant.llm.base import Message

Kind = Literal[
    "factual",
    "conceptual",
    "comparison",
    "multi-hop",
    "follow-up",
    "out-of-scope",
    "unanswerable",
    "injection",
]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
MUST_DECLINE: frozenset[str] = frozenset({"out-of-scope", "unanswerable"})


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc: str = Field(min_length=1)
    heading: str = Field(min_length=1)


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class GoldenItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    question: str = Field(min_length=3)
    reference_answer: str = Field(min_length=3)
    # What a correct answer must convey (each traceable to a sentence of the corpus), and plausible mistakes it
    # must not make; matched sentence by sentence (evals/correctness.py).
    key_facts: list[Annotated[str, Field(min_length=8, max_length=300)]] = Field(default_factory=list, max_length=5)
    wrong_claims: list[Annotated[str, Field(min_length=8, max_length=300)]] = Field(default_factory=list, max_length=5)
    reference_sources: list[SourceRef] = Field(default_factory=list)
    stage: int = Field(ge=0, le=99)  # 0: cross-stage
    kind: Kind
    history: list[Turn] = Field(default_factory=list)
    probe: bool = False

    @property
    def must_decline(self) -> bool:
        return self.kind in MUST_DECLINE

    @model_validator(mode="after")
    def _facts_fit_the_kind(self) -> GoldenItem:
        if self.must_decline and (self.key_facts or self.wrong_claims):
            raise ValueError("an item that must be declined has no key facts or wrong claims")
        return self

    def history_messages(self) -> list[Message]:
        return [Message(role=t.role, content=t.content) for t in self.history]


def load_golden(folder: Path) -> list[GoldenItem]:
    """Every item of every ``*.yaml`` in ``folder``, in file order; ids must be unique."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise TutorError(f"No golden files (*.yaml) in {folder}.", "add golden items or pass the right --suite.")
    items: list[GoldenItem] = []
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            raise TutorError(f"{path.name} is not valid YAML: {str(exc).splitlines()[0]}.", "fix the file.") from None
        if not isinstance(raw, list):
            raise TutorError(f"{path.name} must hold a YAML list of items.", "start each item with '- id: ...'.")
        for n, entry in enumerate(raw, start=1):
            try:
                items.append(GoldenItem.model_validate(entry))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(map(str, err["loc"])) or "item"
                raise TutorError(
                    f"{path.name} item {n}: {where}: {err['msg']}.", "fix the item (see evals/golden/*.yaml)."
                ) from None
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise TutorError(f"Golden item id '{item.id}' is used twice.", "give every item a unique id.")
        seen.add(item.id)
    return items


def select(items: list[GoldenItem], ids: list[str] | None = None, limit: int | None = None) -> list[GoldenItem]:
    """The items named by ``ids`` (in that order), else the first ``limit`` items, else all."""
    if ids:
        by_id = {i.id: i for i in items}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise TutorError(f"Unknown golden item id(s): {', '.join(unknown)}.", "check the ids in the golden files.")
        items = [by_id[i] for i in ids]
    return items[:limit] if limit else items
