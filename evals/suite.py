"""An eval suite: a folder with ``suite.yaml``, golden items, recordings, thresholds, baseline and reports.

The real suite is ``evals/`` (corpus: ``knowledge/`` plus ``evals/fixtures/``); the tests use a small
suite under ``tests/fixtures/evals/`` with its own frozen corpus. Paths in ``suite.yaml`` are relative
to the suite folder.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from assistant.errors import TutorError

EVALS_DIR = Path(__file__).resolve().parent
REPO_ROOT = EVALS_DIR.parent  # source keys of the eval index are relative to this folder
DEFAULT_SUITE = EVALS_DIR


class SuiteFile(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    corpus: list[str] = Field(min_length=1)
    retrieval_k: int = Field(5, ge=1, le=50)


class Suite(BaseModel):
    root: Path
    name: str
    corpus: list[Path]
    retrieval_k: int

    @classmethod
    def load(cls, root: Path | None = None) -> Suite:
        root = (root or DEFAULT_SUITE).resolve()
        path = root / "suite.yaml"
        if not path.is_file():
            raise TutorError(f"{path} does not exist.", "pass --suite with a folder that holds suite.yaml.")
        try:
            spec = SuiteFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except (yaml.YAMLError, ValidationError) as exc:
            raise TutorError(f"{path} is invalid: {str(exc).splitlines()[0]}.", "fix suite.yaml.") from None
        corpus = [(root / c).resolve() for c in spec.corpus]
        missing = [str(c) for c in corpus if not c.is_dir()]
        if missing:
            raise TutorError(f"Corpus folder(s) missing: {', '.join(missing)}.", "fix 'corpus' in suite.yaml.")
        return cls(root=root, name=spec.name, corpus=corpus, retrieval_k=spec.retrieval_k)

    @property
    def golden_dir(self) -> Path:
        return self.root / "golden"

    @property
    def recordings_dir(self) -> Path:
        return self.root / "recordings"

    @property
    def thresholds_path(self) -> Path:
        return self.root / "thresholds.yaml"

    @property
    def baseline_path(self) -> Path:
        return self.root / "baseline.json"

    @property
    def history_path(self) -> Path:
        return self.root / "history.jsonl"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"
