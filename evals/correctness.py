"""Correctness without a judge: is each key fact in the answer, is any wrong claim?

A claim is *said* by an answer sentence (or two adjacent ones) when MiniLM cosine similarity plus a weighted
share of the claim's content words that the sentence contains (each word weighted by its rarity in the corpus,
so "RobustScaler" counts more than "data"), minus a penalty when exactly one side is negated, reaches a
threshold, and every number the claim states is stated there too ("a factor of 8" never matches "65,536
values instead of 16.8 million").

A wrong claim usually differs from a right statement by one swapped term or a reversed recommendation, which
similarity alone cannot see. So a sentence states a wrong claim only when it also scores higher against the
claim, by a margin, than against every *rival*: the item's key facts and the sentences of its reference
answer. The weights, thresholds and margin are fitted on labelled pairs (``evals/calibration/pairs/``) by
``tutor evals calibrate --fit-matcher`` and committed in ``evals/calibration/matcher.json``.

Per item: ``key_fact_recall`` is the share of key facts found (0 for an answerable question declined) and
``wrong_claim_rate`` is 1.0 when any listed wrong claim is found or a key fact's figures are contradicted (the
sentence that says the fact states other numbers), else 0.0 (None when there is nothing to check).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from assistant.text import content_words, negated, numbers, sentences

MATCHER_FILE = Path(__file__).resolve().parent / "calibration" / "matcher.json"
Embed = Callable[[list[str]], Sequence[Sequence[float]]]


class MatcherParams(BaseModel):
    w_cov: float = 1.0  # weight of the (rarity-weighted) content-word share
    w_neg: float = 0.1  # penalty when exactly one side is negated
    threshold: float = 1.2  # a key fact is found at or above this score
    claim_w_cov: float = 1.0  # wrong claims: weight of the share of their words the question does not hold
    claim_threshold: float = 1.1  # a wrong claim is found at or above this score ...
    claim_margin: float = 0.05  # ... and at least this much above its best rival
    fitted_on: int = 0  # labelled pairs the values were fitted on
    accuracy: dict[str, float] = Field(default_factory=dict)  # on those pairs: "fact", "wrong_claim"

    @classmethod
    def load(cls, path: Path = MATCHER_FILE) -> MatcherParams:
        return cls.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else cls()

    def save(self, path: Path = MATCHER_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_dump(), indent=2) + "\n", encoding="utf-8")


class Features(BaseModel):
    """What the matcher measured for one claim against one candidate sentence."""

    cos: float
    cov: float
    polarity_differs: bool
    numbers_ok: bool
    sentence: str
    claim: bool = False  # measured as a wrong claim (coverage without the question's words)
    rival: float | None = None  # best score of a rival statement against the same sentence (wrong claims)

    def score(self, p: MatcherParams) -> float:
        weight = p.claim_w_cov if self.claim else p.w_cov
        return self.cos + weight * self.cov - (p.w_neg if self.polarity_differs else 0.0)

    def matches(self, p: MatcherParams) -> bool:
        return self.numbers_ok and self.score(p) >= p.threshold

    def states(self, p: MatcherParams) -> bool:
        """As a wrong claim: same polarity ("X is not a substitute for Y" never states "X is as good as Y"),
        close enough, and closer to the claim than to anything right."""
        score = self.score(p)
        beaten = self.rival is not None and score - self.rival < p.claim_margin
        return self.numbers_ok and not self.polarity_differs and score >= p.claim_threshold and not beaten


class ClaimResult(BaseModel):
    text: str
    found: bool
    score: float
    sentence: str = ""  # the best-matching answer sentence(s)
    contradicted: bool = False  # a key fact whose figures the answer states differently


class Correctness(BaseModel):
    key_facts: list[ClaimResult] = Field(default_factory=list)
    wrong_claims: list[ClaimResult] = Field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return sum(f.found for f in self.key_facts) / len(self.key_facts) if self.key_facts else None

    @property
    def wrong(self) -> float | None:
        """1.0 when a listed wrong claim is stated or a key fact's figures are contradicted; None when the item
        lists no wrong claim and no key fact with a figure (nothing to check)."""
        checked = self.wrong_claims or any(numbers(f.text) for f in self.key_facts)
        if not checked:
            return None
        return 1.0 if self.stated or any(f.contradicted for f in self.key_facts) else 0.0

    @property
    def missed(self) -> list[str]:
        return [f.text for f in self.key_facts if not f.found]

    @property
    def stated(self) -> list[ClaimResult]:
        return [c for c in self.wrong_claims if c.found]

    @property
    def contradicted(self) -> list[ClaimResult]:
        return [f for f in self.key_facts if f.contradicted]


def candidates(answer: str) -> list[str]:
    """Each sentence of the answer, and each pair of adjacent sentences (a fact may span two)."""
    parts = sentences(answer)
    return parts + [f"{a} {b}" for a, b in pairwise(parts)]


def corpus_idf(texts: list[str]) -> dict[str, float]:
    """Inverse document frequency of content words over paragraphs (smoothed; unseen words get the maximum)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(content_words(text)))
    n = len(texts)
    return {w: math.log((n + 1) / (c + 1)) + 1 for w, c in counts.items()} | {"": math.log(n + 1) + 1}


def corpus_paragraphs(folders: list[Path]) -> list[str]:
    from assistant.roadmap import split_front_matter

    out: list[str] = []
    for folder in folders:
        for path in sorted(folder.glob("*.md")):
            _, body = split_front_matter(path.read_text(encoding="utf-8"))
            out += [" ".join(b.split()) for b in body.split("\n\n") if b.strip()]
    return out


class FactMatcher:
    """Finds claims in texts; embeddings are cached per text, so re-checking a set costs nothing."""

    def __init__(self, embed: Embed, idf: dict[str, float] | None = None, params: MatcherParams | None = None) -> None:
        self._embed = embed
        self.idf = idf or {}
        self.params = params or MatcherParams.load()
        self._vectors: dict[str, np.ndarray] = {}

    def _vecs(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo:
            for text, vec in zip(todo, self._embed(todo), strict=True):
                arr = np.asarray(vec, dtype=np.float32)
                self._vectors[text] = arr / (np.linalg.norm(arr) or 1.0)
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)

    def warm(self, texts: list[str]) -> None:
        """Embed many texts in one batch (claims and candidates of a whole run)."""
        self._vecs(texts)

    def _weight(self, word: str) -> float:
        return self.idf.get(word, self.idf.get("", 1.0)) if self.idf else 1.0

    def _coverage(self, claim_words: set[str], text: str) -> float:
        have = claim_words & set(content_words(text))
        total = sum(self._weight(w) for w in claim_words)
        return sum(self._weight(w) for w in have) / total if total else 0.0

    def all_features(self, claim: str, cands: list[str], *, question: str | None = None) -> list[Features]:
        """The claim against each candidate. With ``question`` (wrong claims and their rivals), the word share
        leaves out the question's own words: an answer that echoes the question says nothing by that."""
        if not cands:
            return []
        sims = self._vecs(cands) @ self._vecs([claim])[0]
        words, nums, neg = set(content_words(claim)), numbers(claim), negated(claim)
        if question is not None:
            words = words - set(content_words(question)) or words
        return [
            Features(
                cos=float(cos),
                cov=self._coverage(words, cand),
                polarity_differs=negated(cand) != neg,
                numbers_ok=nums <= numbers(cand),
                sentence=cand,
                claim=question is not None,
            )
            for cand, cos in zip(cands, sims, strict=True)
        ]

    def best(self, claim: str, cands: list[str]) -> Features | None:
        """The candidate that best says the claim (numbers first, then score)."""
        found = self.all_features(claim, cands)
        return max(found, key=lambda f: (f.numbers_ok, f.score(self.params))) if found else None

    def rival_score(self, rivals: Sequence[str], sentence: str, question: str) -> float | None:
        scores = [f.score(self.params) for r in rivals for f in self.all_features(r, [sentence], question=question)]
        return max(scores, default=None)

    def find(self, claim: str, cands: list[str]) -> ClaimResult:
        feat = self.best(claim, cands)
        if feat is None:
            return ClaimResult(text=claim, found=False, score=0.0)
        score = round(feat.score(self.params), 4)
        return ClaimResult(text=claim, found=feat.matches(self.params), score=score, sentence=feat.sentence)

    def contradiction(self, fact: str, singles: list[str]) -> str | None:
        """A sentence that says the fact with other figures: it scores as the fact would, states a number the
        fact does not, and the answer nowhere states some figure of the fact ("10-20% cheaper" for "60-90%")."""
        wanted = numbers(fact)
        if not wanted or wanted <= {n for s in singles for n in numbers(s)}:
            return None
        for feat in self.all_features(fact, singles):
            if feat.score(self.params) >= self.params.threshold and numbers(feat.sentence) - wanted:
                return feat.sentence
        return None

    def find_wrong(self, claim: str, cands: list[str], rivals: Sequence[str], question: str) -> ClaimResult:
        """A wrong claim, checked against every candidate (the best-scoring one may be beaten by a rival)."""
        close = [
            f
            for f in self.all_features(claim, cands, question=question)
            if f.numbers_ok and f.score(self.params) >= self.params.claim_threshold
        ]
        for feat in sorted(close, key=lambda f: -f.score(self.params)):
            feat.rival = self.rival_score(rivals, feat.sentence, question)
            if feat.states(self.params):
                score = round(feat.score(self.params), 4)
                return ClaimResult(text=claim, found=True, score=score, sentence=feat.sentence)
        return ClaimResult(text=claim, found=False, score=0.0)

    def check(
        self,
        answer: str,
        key_facts: list[str],
        wrong_claims: list[str],
        *,
        declined: bool,
        question: str = "",
        rivals: Sequence[str] = (),
    ) -> Correctness:
        """Key facts and wrong claims of one item against its answer; a decline says nothing. ``rivals`` are
        the right statements a wrong claim must beat (the item's key facts are always among them)."""
        singles = [] if declined else sentences(answer)
        cands = [] if declined else candidates(answer)
        rival_texts = list(dict.fromkeys([*key_facts, *rivals]))
        facts = [self.find(f, cands) for f in key_facts]
        for fact in facts:
            if not fact.found and (sentence := self.contradiction(fact.text, singles)):
                fact.contradicted, fact.sentence = True, sentence
        return Correctness(
            key_facts=facts,
            # one sentence at a time: two right sentences side by side can hold every word of a wrong claim
            wrong_claims=[self.find_wrong(c, singles, rival_texts, question) for c in wrong_claims],
        )


def embedder_fn(embedder: object) -> Embed:
    """A llama-index embedding model as a batch function."""
    return embedder.get_text_embedding_batch  # type: ignore[attr-defined,no-any-return]


def matcher_for(corpus: list[Path], embedder: object) -> FactMatcher:
    """The matcher with word weights from the suite's corpus."""
    return FactMatcher(embedder_fn(embedder), corpus_idf(corpus_paragraphs(corpus)))
