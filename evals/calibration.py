"""How far each correctness measure can be trusted, measured on answers a person has labelled.

Two committed labelled sets live in ``evals/calibration/``:
- ``pairs/*.yaml``: (claim, sentence, match | no-match) pairs, written for each golden key fact and wrong
  claim (paraphrases and near misses: a number changed, a term swapped, a recommendation reversed) and taken
  from real recorded answers. The fact matcher's weights are fitted on them (``fit_matcher``).
- ``set.jsonl``: (question, contexts, answer, label, reason) rows, labels correct / partly / wrong: real
  recorded answers read against the roadmap (``verdicts/*.yaml``) and answers made wrong on purpose
  (``perturbed.yaml``); built by ``build_set``.

``tutor evals calibrate`` scores every row with the deterministic metric and the configured judge (ragas
faithfulness and answer correctness; judge calls cached per judge model, so a re-run is free) and writes
``results.json``: agreement with the labels and the share of wrong answers each measure catches.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from assistant.errors import TutorError
from assistant.text import sentences
from evals.correctness import FactMatcher, Features, MatcherParams
from evals.golden import GoldenItem, load_golden
from evals.models import Recording

CALIBRATION_DIR = Path(__file__).resolve().parent / "calibration"
SET_FILE = "set.jsonl"
RESULTS_FILE = "results.json"
Label = Literal["correct", "partly", "wrong"]
# A measure flags an answer as wrong when its score is under this (key_fact_recall: or a wrong claim is found).
FLAG_BELOW = {"key_fact_recall": 0.5, "faithfulness": 0.7, "answer_correctness": 0.6}
JUDGED = ("faithfulness", "answer_correctness")


class LabelledPair(BaseModel):
    item: str
    kind: Literal["fact", "wrong_claim"]
    text: str
    sentence: str
    label: Literal["match", "no-match"]
    how: str = ""


class Verdict(BaseModel):
    item: str
    label: Label
    reason: str
    facts: list[bool] = Field(default_factory=list)
    wrong_claims: list[bool] = Field(default_factory=list)


class Perturbed(BaseModel):
    item: str
    perturbation: str
    answer: str
    reason: str


class CalibrationRow(BaseModel):
    id: str
    item: str
    origin: Literal["recorded", "perturbed"]
    question: str
    contexts: list[str]
    answer: str
    label: Label
    reason: str
    perturbation: str = ""


class Agreement(BaseModel):
    """One measure against the labels: wrong answers flagged (caught), correct ones flagged (false alarms)."""

    measure: str
    rows: int = 0  # rows with a score
    unscored: int = 0  # rows the measure could not score (judge output unusable)
    agreement: float | None = None  # over correct and wrong rows: share where flagged == (label is wrong)
    catch_rate: float | None = None  # share of wrong rows flagged
    false_alarms: float | None = None  # share of correct rows flagged
    partly_flagged: float | None = None  # share of partly-right rows flagged (incomplete answers)
    catch_by_origin: dict[str, float] = Field(default_factory=dict)  # recorded failures vs perturbed answers
    mean_by_label: dict[str, float] = Field(default_factory=dict)


class CalibrationResult(BaseModel):
    judge_model: str
    rows: int
    measures: dict[str, Agreement]


# -- loading -------------------------------------------------------------------------------------
def _yaml_rows(path: Path) -> list[dict[str, object]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise TutorError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}.", "fix the file.") from None
    if not isinstance(raw, list):
        raise TutorError(f"{path} must hold a YAML list.", "fix the file.")
    return raw


def load_pairs(folder: Path = CALIBRATION_DIR) -> list[LabelledPair]:
    return [LabelledPair.model_validate(r) for p in sorted((folder / "pairs").glob("*.yaml")) for r in _yaml_rows(p)]


def load_set(folder: Path = CALIBRATION_DIR) -> list[CalibrationRow]:
    path = folder / SET_FILE
    if not path.is_file():
        raise TutorError(f"No calibration set at {path}.", "build it with `tutor evals calibrate --build-set`.")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [CalibrationRow.model_validate_json(line) for line in lines if line.strip()]


def build_set(suite_root: Path, folder: Path = CALIBRATION_DIR) -> list[CalibrationRow]:
    """Freeze the labelled answers with their question and contexts into ``set.jsonl`` (labels refer to
    these exact answer texts, so a later re-record does not change the set)."""
    recording = Recording.load(suite_root / "recordings")
    recs = {r.id: r for r in recording.items}
    verdicts = [Verdict.model_validate(r) for p in sorted((folder / "verdicts").glob("*.yaml")) for r in _yaml_rows(p)]
    perturbed = [Perturbed.model_validate(r) for r in _yaml_rows(folder / "perturbed.yaml")]
    rows: list[CalibrationRow] = []
    for n, (item, answer, label, reason, origin, how) in enumerate(
        [(v.item, recs[v.item].answer, v.label, v.reason, "recorded", "") for v in verdicts if v.item in recs]
        + [(p.item, p.answer, "wrong", p.reason, "perturbed", p.perturbation) for p in perturbed if p.item in recs]
    ):
        rec = recs[item]
        rows.append(
            CalibrationRow(
                id=f"{origin[:3]}-{n:03d}-{item}",
                item=item,
                origin=origin,  # type: ignore[arg-type]
                question="\n".join([*(t.content for t in rec.history if t.role == "user"), rec.question]),
                contexts=[c.text for c in rec.contexts],
                answer=answer,
                label=label,  # type: ignore[arg-type]
                reason=reason,
                perturbation=how,
            )
        )
    text = "".join(json.dumps(r.model_dump(), ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    (folder / SET_FILE).write_text(text, encoding="utf-8")
    return rows


# -- the fact matcher ------------------------------------------------------------------------------
class Case(BaseModel):
    """One labelled case for the matcher: a claim against one sentence (a pair) or against every sentence of a
    real recorded answer (its verdict says whether the answer states the claim)."""

    kind: Literal["fact", "wrong_claim"]
    source: Literal["pair", "recorded"]
    how: str
    label: bool
    sentences: list[tuple[Features, list[Features]]]  # per sentence: the claim's features, its rivals' features

    def predicted(self, params: MatcherParams) -> bool:
        if self.kind == "fact":
            return any(f.matches(params) for f, _ in self.sentences)
        for feat, rivals in self.sentences:
            rival = max((r.score(params) for r in rivals), default=None)
            if feat.model_copy(update={"rival": rival}).states(params):
                return True
        return False


def _rivals(item: GoldenItem) -> list[str]:
    return list(dict.fromkeys([*item.key_facts, *sentences(item.reference_answer)]))


def _case(
    matcher: FactMatcher, item: GoldenItem, kind: str, text: str, cands: list[str], source: str, how: str, label: bool
) -> Case:
    found: list[tuple[Features, list[Features]]]
    if kind == "fact":
        found = [(f, []) for f in matcher.all_features(text, cands)]
    else:
        q = item.question
        found = [
            (f, [r for rv in _rivals(item) for r in matcher.all_features(rv, [f.sentence], question=q)])
            for f in matcher.all_features(text, cands, question=q)
        ]
    return Case(kind=kind, source=source, how=how, label=label, sentences=found)  # type: ignore[arg-type]


def matcher_cases(
    matcher: FactMatcher, pairs: list[LabelledPair], golden: dict[str, GoldenItem], folder: Path = CALIBRATION_DIR
) -> list[Case]:
    """Every labelled pair, plus each wrong claim against the real recorded answer its verdict labels
    (``verdicts/*.yaml``, answers frozen in ``set.jsonl``). Measured once; parameters then apply without
    embedding anything again."""
    recorded = (
        {r.item: r.answer for r in load_set(folder) if r.origin == "recorded"} if (folder / SET_FILE).is_file() else {}
    )
    verdicts = [Verdict.model_validate(r) for p in sorted((folder / "verdicts").glob("*.yaml")) for r in _yaml_rows(p)]
    texts = [t for p in pairs for t in (p.text, p.sentence)] + [r for g in golden.values() for r in _rivals(g)]
    texts += [s for a in recorded.values() for s in sentences(a)]
    matcher.warm(texts + [c for g in golden.values() for c in g.wrong_claims])
    cases = [
        _case(matcher, golden[p.item], p.kind, p.text, [p.sentence], "pair", p.how, p.label == "match")
        for p in pairs
        if p.item in golden
    ]
    for v in verdicts:
        item, answer = golden.get(v.item), recorded.get(v.item)
        if item is None or answer is None:
            continue
        for claim, label in zip(item.wrong_claims, v.wrong_claims, strict=False):
            cases.append(_case(matcher, item, "wrong_claim", claim, sentences(answer), "recorded", "answer", label))
    return cases


def accuracy(cases: list[Case], params: MatcherParams) -> float:
    return sum(c.predicted(params) == c.label for c in cases) / len(cases) if cases else 0.0


def _claim_objective(cases: list[Case], params: MatcherParams) -> float:
    """Right calls minus false matches (a false match fails a right answer, so it costs twice)."""
    score = 0.0
    for case in cases:
        predicted = case.predicted(params)
        score += 1.0 if predicted == case.label else (-1.0 if predicted else 0.0)
    return score


def _grid(values: range, scale: float = 100) -> list[float]:
    return [v / scale for v in values]


def fit_matcher(matcher: FactMatcher, cases: list[Case]) -> MatcherParams:
    """The parameters that fit the labelled cases best: first the key-fact weights and threshold (accuracy),
    then, with that negation penalty, the wrong-claim weight, threshold and margin (right calls minus false
    matches; ties: the stricter value)."""
    facts = [c for c in cases if c.kind == "fact"]
    claims = [c for c in cases if c.kind == "wrong_claim"]
    if not facts or not claims:
        raise TutorError("No labelled pairs to fit the matcher on.", "add pairs under evals/calibration/pairs/.")
    best: tuple[float, float, MatcherParams] = (-1.0, 0.0, MatcherParams())
    for w_cov, w_neg, t in itertools.product(
        _grid(range(0, 161, 10)), _grid(range(0, 41, 10)), _grid(range(50, 221, 2))
    ):
        params = MatcherParams(w_cov=w_cov, w_neg=w_neg, threshold=t)
        key = (accuracy(facts, params), t)
        if key > best[:2]:
            best = (*key, params)
    params = best[2]
    best = (-1e9, 0.0, params)
    for w_cov, t, margin in itertools.product(
        _grid(range(50, 151, 25)), _grid(range(70, 201, 5)), _grid(range(-10, 31, 4))
    ):
        trial = params.model_copy(update={"claim_w_cov": w_cov, "claim_threshold": t, "claim_margin": margin})
        key = (_claim_objective(claims, trial), t + margin)
        if key > best[:2]:
            best = (*key, trial)
    params = best[2]
    return params.model_copy(update={"fitted_on": len(cases), "accuracy": case_accuracy(cases, params)})


def case_accuracy(cases: list[Case], params: MatcherParams) -> dict[str, float]:
    """Accuracy per kind of claim and source: "fact", "wrong_claim", "wrong_claim/recorded"."""
    groups = {
        "fact": [c for c in cases if c.kind == "fact"],
        "wrong_claim": [c for c in cases if c.kind == "wrong_claim" and c.source == "pair"],
        "wrong_claim/recorded": [c for c in cases if c.kind == "wrong_claim" and c.source == "recorded"],
    }
    return {k: round(accuracy(v, params), 4) for k, v in groups.items() if v}


# -- answers against labels ------------------------------------------------------------------------
def agreement(measure: str, scored: list[tuple[CalibrationRow, float | None, bool]]) -> Agreement:
    """``scored``: (row, score, flagged) per row; a None score counts as unscored."""
    usable = [(r, s, f) for r, s, f in scored if s is not None]
    wrong = [f for r, _, f in usable if r.label == "wrong"]
    correct = [f for r, _, f in usable if r.label == "correct"]
    partly = [f for r, _, f in usable if r.label == "partly"]
    decided = wrong + [not f for f in correct]
    means: dict[str, float] = {}
    for label in ("correct", "partly", "wrong"):
        values = [s for r, s, _ in usable if r.label == label and s is not None]
        if values:
            means[label] = round(sum(values) / len(values), 3)
    return Agreement(
        measure=measure,
        rows=len(usable),
        unscored=len(scored) - len(usable),
        agreement=round(sum(decided) / len(decided), 3) if decided else None,
        catch_rate=round(sum(wrong) / len(wrong), 3) if wrong else None,
        false_alarms=round(sum(correct) / len(correct), 3) if correct else None,
        partly_flagged=round(sum(partly) / len(partly), 3) if partly else None,
        catch_by_origin={
            origin: round(sum(flags) / len(flags), 3)
            for origin in ("recorded", "perturbed")
            if (flags := [f for r, _, f in usable if r.label == "wrong" and r.origin == origin])
        },
        mean_by_label=means,
    )


def golden_by_id(suite_root: Path) -> dict[str, GoldenItem]:
    return {g.id: g for g in load_golden(suite_root / "golden")}


def load_results(folder: Path = CALIBRATION_DIR) -> dict[str, CalibrationResult]:
    path = folder / RESULTS_FILE
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {k: CalibrationResult.model_validate(v) for k, v in raw.items()}


def save_result(result: CalibrationResult, folder: Path = CALIBRATION_DIR) -> None:
    found = load_results(folder)
    found[result.judge_model] = result
    data = {k: v.model_dump(mode="json") for k, v in sorted(found.items())}
    (folder / RESULTS_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
