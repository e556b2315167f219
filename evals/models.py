"""Records of an eval run (pydantic at every file boundary).

``recordings/answers.jsonl`` holds one :class:`RecordedItem` per line, ``run.json`` one :class:`RunInfo`,
``scores.json`` one :class:`Scores`; the judge's calls live in ``judge-cache.jsonl`` (see ``judge.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.errors import TutorError
from assistant.llm.base import Message, Usage

ANSWERS = "answers.jsonl"
JUDGE_CACHE = "judge-cache.jsonl"
SCORES = "scores.json"
RUN = "run.json"


class RecordedContext(BaseModel):
    id: str
    doc_id: str
    heading_path: str
    score: float
    text: str


class RecordedCitation(BaseModel):
    n: int
    doc_id: str
    heading_path: str


class RecordedItem(BaseModel):
    id: str
    question: str
    history: list[Message] = Field(default_factory=list)
    answer: str
    declined: bool
    contexts: list[RecordedContext]
    citations: list[RecordedCitation]
    usage: Usage
    cost_usd: float
    latency_s: float
    provider: str
    model: str
    fingerprint: str  # sha256 of the canonical JSON of the exact messages the LLM saw
    calls: int | None = None  # model calls made for the answer (None in recordings made before it was kept)
    search_query: str | None = None  # what retrieval searched for (a follow-up made standalone); None: older

    def counted_calls(self) -> int:
        """The calls this answer added to the run's totals."""
        return self.calls if self.calls is not None else (0 if self.declined else 1)


class Totals(BaseModel):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0

    def add(self, usage: Usage, cost_usd: float, seconds: float, calls: int = 1) -> None:
        self.calls += calls
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost_usd += cost_usd
        self.seconds += seconds

    def remove(self, item: RecordedItem) -> None:
        """Take a recorded answer back out (a --stale run replaces it)."""
        if item.counted_calls():
            self.calls -= item.counted_calls()
            self.prompt_tokens -= item.usage.prompt_tokens
            self.completion_tokens -= item.usage.completion_tokens
            self.cost_usd -= item.cost_usd
            self.seconds -= item.latency_s

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Validity(BaseModel):
    """How many of a metric's judge calls returned usable output (valid JSON with content)."""

    valid: int = 0
    total: int = 0

    @property
    def share(self) -> float | None:
        return self.valid / self.total if self.total else None


class RunInfo(BaseModel):
    suite: str
    recorded_at: str
    provider: str
    model: str
    judge_provider: str
    judge_model: str
    prompt_template_hash: str
    settings: dict[str, str | int | float]
    items: list[str]
    judged: list[str]
    repeats: int = 1
    answers: Totals = Field(default_factory=Totals)
    judge: Totals = Field(default_factory=Totals)
    wall_s: float = 0.0
    retrieval: dict[str, float] = Field(default_factory=dict)
    judge_failures: list[str] = Field(default_factory=list)  # "item:metric" the judge could not score
    judge_validity: dict[str, Validity] = Field(default_factory=dict)  # metric -> usable judge calls
    rerecorded: list[str] = Field(default_factory=list)  # a --stale run: the items answered again at recorded_at


class ItemScores(BaseModel):
    id: str
    kind: str
    declined: bool
    judged: bool
    scores: dict[str, float | None]  # None: not applicable to this item (or the judge failed)
    notes: dict[str, str] = Field(default_factory=dict)  # metric -> what it found (missed facts, wrong claims)


class Spread(BaseModel):
    mean: float
    std: float
    min: float
    max: float
    n: int


class Scores(BaseModel):
    items: list[ItemScores]
    aggregate: dict[str, float | None]
    spread: dict[str, Spread] = Field(default_factory=dict)  # across --repeats (record time only)

    def by_id(self) -> dict[str, ItemScores]:
        return {s.id: s for s in self.items}


def clean(value: float | None) -> float | None:
    """NaN and None both mean 'no score'; scores are rounded so files diff cleanly."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 6)


def aggregate(items: list[ItemScores]) -> dict[str, float | None]:
    names = sorted({m for s in items for m in s.scores})
    out: dict[str, float | None] = {}
    for name in names:
        values = [v for s in items if (v := s.scores.get(name)) is not None]
        out[name] = round(sum(values) / len(values), 6) if values else None
    return out


# -- files ------------------------------------------------------------------------------------
def write_jsonl(path: Path, rows: list[BaseModel]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")


def write_json(path: Path, model: BaseModel) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


class Recording(BaseModel):
    run: RunInfo
    items: list[RecordedItem]
    scores: Scores

    @classmethod
    def load(cls, folder: Path) -> Recording:
        if not (folder / RUN).is_file():
            raise TutorError(f"No recording in {folder}.", "record one with `make evals` (tutor evals record).")
        try:
            run = RunInfo.model_validate_json((folder / RUN).read_text(encoding="utf-8"))
            lines = (folder / ANSWERS).read_text(encoding="utf-8").splitlines()
            items = [RecordedItem.model_validate_json(line) for line in lines if line.strip()]
            scores = Scores.model_validate_json((folder / SCORES).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TutorError(
                f"The recording in {folder} is damaged: {str(exc).splitlines()[0]}.", "re-record with `make evals`."
            ) from None
        return cls(run=run, items=items, scores=scores)

    def save(self, folder: Path) -> None:
        write_jsonl(folder / ANSWERS, list(self.items))
        write_json(folder / SCORES, self.scores)
        write_json(folder / RUN, self.run)


class Baseline(BaseModel):
    """The blessed scores a release is compared with (``baseline.json``), refreshed only on request."""

    recorded_at: str
    model: str
    judge_model: str
    aggregate: dict[str, float | None]
    retrieval: dict[str, float]
    items: dict[str, dict[str, float | None]]

    @classmethod
    def of(cls, recording: Recording) -> Baseline:
        return cls(
            recorded_at=recording.run.recorded_at,
            model=f"{recording.run.provider}/{recording.run.model}",
            judge_model=recording.run.judge_model,
            aggregate=recording.scores.aggregate,
            retrieval=recording.run.retrieval,
            items={s.id: s.scores for s in recording.scores.items},
        )

    @classmethod
    def load(cls, path: Path) -> Baseline | None:
        if not path.is_file():
            return None
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise TutorError(
                f"{path} is damaged: {str(exc).splitlines()[0]}.", "refresh it with `make evals UPDATE_BASELINE=1`."
            ) from None
