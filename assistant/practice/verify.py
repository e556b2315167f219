"""Verification before a question is shown: deterministic checks, a separate key check, shuffling.

Each draft is written about one key sentence of its chunk (the evidence). It is dropped, with a
reason, when that evidence is not in the cited chunk, its answer is not grounded in that chunk, its
options are ambiguous, it repeats an earlier question, or an independent check call, answering from
the cited chunk alone, does not arrive at the same key. The correct option's position is chosen by
us, after generation and checking, from shuffled blocks of A-D so that it is uniform over A-D and
balanced within a quiz.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from rapidfuzz import fuzz

from assistant.errors import StructuredOutputError
from assistant.llm.base import ChatModel, Message
from assistant.practice.drafts import (
    KeyJudgement,
    McqCheck,
    McqDraft,
    ShortCheck,
    ShortDraft,
    TrueFalseCheck,
    TrueFalseDraft,
)
from assistant.practice.models import LETTERS, Question
from assistant.practice.prompts import (
    key_judgement_messages,
    mcq_check_messages,
    short_check_messages,
    true_false_check_messages,
)
from assistant.practice.sources import about_the_roadmap, key_sentences
from assistant.practice.structured import Meter, T, complete_structured
from assistant.text import stem as text_stem
from assistant.text import words as text_words

Draft = McqDraft | TrueFalseDraft | ShortDraft

EVIDENCE_MATCH = 90  # rapidfuzz partial_ratio: the quote must be (nearly) verbatim in the chunk
DUPLICATE_MATCH = 85  # token_sort_ratio between two stems (normalised text)
ANSWER_GROUNDING = 0.5  # share of the key's content words that its evidence sentence must contain
GIVEAWAY = 0.8  # share of the key's content words already in the question: the question gives it away
MAX_STEM_CHARS = 500
# The key gives itself away by form when it is much longer than every wrong answer ("Derivatives, partial
# derivatives, gradient, chain rule, ..." beside "Logarithms"): a learner picks it without knowing why.
KEY_LENGTH_RATIO = 1.8
KEY_LENGTH_SLACK = 15  # characters: short options may differ a lot in ratio ("L1" and "ridge") and not stand out
MAX_OPTION_CHARS = 200
# A key sharing this many more of the stem's content words than any wrong answer is found by its wording
# alone ("Why do schedules matter with non-convex losses?" keyed "non-convex losses").
ECHO_MARGIN = 2
# An option is a clause when it has a subject and a finite verb (a verb from a short list after the first word,
# or a pronoun first) or is a whole sentence ending in a full stop; "does not affect weights" is a predicate,
# the same kind as "shrinks all weights". Mixing a clause key with noun-phrase distractors ("any minimum it
# finds is a global one" beside "momentum", "Adam") makes the odd one out the answer, or a trap.
_PRONOUN_FIRST = re.compile(r"^\s*(it|they|this|these|that|we|you)\b", re.IGNORECASE)
_VERB_AFTER_SUBJECT = re.compile(
    r"^\s*\S+.*?\b(is|are|was|were|has|have|had|does|do|did|can|cannot|will|would|should|must|may|might)\b",
    re.IGNORECASE,
)
# Words nearly every question and statement here shares: they tie a question to nothing in particular.
GENERIC = frozenset({"model", "machi", "learn", "data", "ml", "syste", "engin"})  # as word_stem gives them
# An item that talks about the prompt ("the key_points array", "the statements above", "mentioned in the key
# sentence") is not one a teacher would ask.
ABOUT_THE_PROMPT = re.compile(
    r"key_points|\bjson\b|statements? above|numbered statements?|\brubric\b|\bthe (?:study|source) material\b"
    r"|\bkey sentence\b|\b(?:according to|mentioned in|stated in|given in|in|from) the (?:source|text|passage)\b",
    re.I,
)
CATCH_ALL = re.compile(
    r"\b(all|none|both|neither) of (the|these|them|those)\b|\b[a-d] and [a-d]\b|^\s*(both|neither|all|none)\W*$",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9.%+-]+", " ", text.lower()).split())


def content_words(text: str) -> list[str]:
    """The shared stopword list applied, words as written, two-character terms kept ("ml", "l2" matter)."""
    return text_words(text, min_len=2)


def word_stem(word: str) -> str:
    """Suffixes stripped, then the first five letters: "weeks"/"week", "normalisation"/"normalize"."""
    root = text_stem(word)
    return root[:5] if len(root) > 5 else root


def stems_of(text: str) -> set[str]:
    return {word_stem(w) for w in content_words(text)}


def on_evidence(stem: str, key: str, evidence: str) -> bool:
    """The question shares a specific word (beyond the key's and generic ones) with the sentence that states its
    key: "What is the purpose of encoding cyclical values with sine and cosine?" keyed from the binning sentence,
    or "the effect of increasing max_depth" from the regularisation sentence, share none."""
    return bool(((stems_of(stem) - stems_of(key)) & stems_of(evidence)) - GENERIC)


def grounding(answer: str, source_text: str) -> float:
    """Share of the answer's content words (compared by prefix) that occur in the source."""
    words = content_words(answer)
    if not words:
        return 0.0
    present = stems_of(source_text)
    return sum(word_stem(w) in present for w in words) / len(words)


def same_option_key(option: str) -> str:
    """Options with the same words and operators (order, case and word endings aside) say the same thing;
    "w - lr * g" and "w + lr * g" differ, as do "a * b / c" and "a / b * c"."""
    tokens = re.findall(r"[a-z0-9]+|[-+*/^<>=%]", option.lower())
    return " ".join(sorted(word_stem(t) for t in tokens)) or normalize(option)


def option_kind(option: str) -> str:
    """ "clause" (a sentence-like option) or "phrase" (a term, a number, a noun phrase)."""
    text = option.strip()
    sentence = text.endswith(".") and len(text.split()) >= 4
    return "clause" if sentence or _PRONOUN_FIRST.search(text) or _VERB_AFTER_SUBJECT.search(text) else "phrase"


def key_echoes_stem(stem: str, key: str, wrong: list[str]) -> bool:
    """The blind check: with no source, the key is the option that repeats the question's words."""
    asked = stems_of(stem)

    def shared(option: str) -> int:
        return len(stems_of(option) & asked)

    return shared(key) - max((shared(w) for w in wrong), default=0) >= ECHO_MARGIN


def key_stands_out(key: str, wrong: list[str]) -> bool:
    longest = max((len(w.strip()) for w in wrong), default=0)
    size = len(key.strip())
    return size > KEY_LENGTH_RATIO * longest and size - longest > KEY_LENGTH_SLACK


_TOKEN = re.compile(r"[a-z0-9]+|[-+*/^<>=%]")


def _tokens(text: str) -> list[str]:
    return [text_stem(t) for t in _TOKEN.findall(text.lower().replace("_", " "))]


def stated_in(option: str, sentence: str) -> bool:
    """Whether the sentence says the option word for word: two or more content words, and every token of
    the option (stop words, numbers and operators too, so "less" is not "more" and "+" is not "-") in one
    run in the sentence, a word matching its inflections ("ship" / "shipping").

    A wrong answer the key sentence itself states is true as well ("What is the goal of MLOps?" beside
    "ship it through automated checks", from the sentence that lists it). Single words are not judged:
    a sentence often names the term it contrasts with the key ("L1 ..., while L2 ...").
    """
    said, there = _tokens(option), _tokens(sentence)
    if len(content_words(option)) < 2 or len(said) > len(there):
        return False

    def same(a: str, b: str) -> bool:
        return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))

    return any(
        all(same(a, b) for a, b in zip(said, there[i : i + len(said)], strict=True))
        for i in range(len(there) - len(said) + 1)
    )


def tidy_options(draft: McqDraft, size: int = 3, *, sentence: str = "") -> McqDraft | None:
    """The draft with ``size`` usable wrong answers, or None when it has fewer.

    Drops empty, over-long and catch-all options, any that say the same as the key or an earlier
    option, and any the key ``sentence`` states; of the rest keeps the ``size`` of the key's kind (clause or
    phrase) first, then closest to the key in length, in their order, so that the key does not stand out
    as the one long (or short) option or the one sentence among terms.
    """
    key = draft.correct_answer.strip()
    seen = {same_option_key(key)}
    usable: list[str] = []
    for option in (w.strip() for w in draft.wrong_answers):
        marker = same_option_key(option)
        if not option or len(option) > MAX_OPTION_CHARS or CATCH_ALL.search(option) or marker in seen:
            continue
        if sentence and stated_in(option, sentence):
            continue
        seen.add(marker)
        usable.append(option)
    if len(usable) < size:
        return None
    kind = option_kind(key)
    closest = sorted(
        range(len(usable)), key=lambda i: (option_kind(usable[i]) != kind, abs(len(usable[i]) - len(key)))
    )[:size]
    return draft.model_copy(update={"wrong_answers": [usable[i] for i in sorted(closest)]})


def evidence_in(evidence: str, source_text: str) -> bool:
    quote = normalize(evidence)
    return len(quote.split()) >= 4 and fuzz.partial_ratio(quote, normalize(source_text)) >= EVIDENCE_MATCH


def is_duplicate(stem: str, answer: str, chunk_id: str, accepted: list[Question]) -> bool:
    for q in accepted:
        if fuzz.token_sort_ratio(normalize(stem), normalize(q.stem)) >= DUPLICATE_MATCH:
            return True
        if q.citation.chunk_id == chunk_id and normalize(q.answer) == normalize(answer):
            return True
    return False


def stem_and_key(draft: Draft) -> tuple[str, str]:
    if isinstance(draft, McqDraft):
        return draft.question.strip(), draft.correct_answer.strip()
    if isinstance(draft, TrueFalseDraft):
        return draft.statement.strip(), "True" if draft.is_true else "False"
    return draft.question.strip(), draft.answer.strip()


_NAMED = re.compile(r"\b(?=\w*[A-Z]\w*[A-Z])\w+\b|\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z\d]+\b")


def named_terms(stem: str) -> list[str]:
    """Acronyms and named variants the question is about ("SGD", "ViT", "AdamW", "L1", "F1"): the sentence
    that states the key must name at least one of them, or the key answers another question."""
    return list(dict.fromkeys(_NAMED.findall(stem)))


def supporting_sentence(claim: str, anchor: str, source_text: str) -> str | None:
    """The sentence of the chunk that states ``claim``: the anchor when it does, else the best other one."""
    if grounding(claim, anchor) >= ANSWER_GROUNDING:
        return anchor
    scored = [(grounding(claim, s), s) for s in key_sentences(source_text, min_words=4)]
    best = max(scored, default=(0.0, ""))
    return best[1] if best[0] >= ANSWER_GROUNDING else None


def verify_draft(
    draft: Draft, anchor: str, source_text: str, chunk_id: str, accepted: list[Question], *, about: str = ""
) -> tuple[str | None, str]:
    """(the first deterministic reason to drop ``draft`` or None, the evidence sentence for its key).

    ``about``: the chunk's heading path; a named term of the question that the heading names (the section's
    own subject, "MLOps") needs no mention in the evidence sentence."""
    stem, key = stem_and_key(draft)
    if not stem or len(stem) > MAX_STEM_CHARS or not key:
        return "malformed-question", anchor
    if ABOUT_THE_PROMPT.search(stem):
        return "about-the-prompt", anchor
    if not isinstance(draft, TrueFalseDraft) and "?" not in stem:
        return "not-a-question", anchor  # a statement with an answer attached ("X adds a penalty." -> "trade-off")
    if isinstance(draft, McqDraft):
        options = [draft.correct_answer, *draft.wrong_answers]
        if any(not o.strip() or len(o) > MAX_OPTION_CHARS for o in options):
            return "malformed-question", anchor
        if any(CATCH_ALL.search(o) for o in options):
            return "ambiguous-options", anchor
        if len({same_option_key(o) for o in options}) < len(options):
            return "ambiguous-options", anchor
        if key_stands_out(draft.correct_answer, draft.wrong_answers):
            return "key-stands-out", anchor
        if len({option_kind(o) for o in options}) > 1:
            return "options-mixed-kind", anchor
        if key_echoes_stem(stem, draft.correct_answer, draft.wrong_answers):
            return "key-echoes-stem", anchor
    # The claim the evidence must state: the key, or for true/false the statement itself.
    claim = stem if isinstance(draft, TrueFalseDraft) else key
    evidence = supporting_sentence(claim, anchor, source_text)
    if evidence is None or not evidence_in(evidence, source_text):
        return "answer-not-in-source", anchor
    if about_the_roadmap(evidence):
        # the model wrote about another sentence than its anchor: a self-test line or the roadmap's outline
        return "not-quiz-material", evidence
    if not isinstance(draft, TrueFalseDraft) and grounding(key, stem) >= GIVEAWAY:
        return "answer-in-question", evidence
    if not isinstance(draft, TrueFalseDraft) and not on_evidence(stem, key, evidence):
        return "stem-off-evidence", evidence
    named = [t for t in named_terms(stem) if t.lower() not in about.lower()]
    if not isinstance(draft, TrueFalseDraft) and named and not any(t.lower() in evidence.lower() for t in named):
        return "stem-off-evidence", evidence  # "What is the learning rate in SGD?" keyed to Adam's default
    if is_duplicate(stem, claim, chunk_id, accepted):  # two true statements of one chunk are not one item
        return "duplicate", evidence
    return None, evidence


class Positions:
    """Correct-option positions: shuffled blocks of 0..3, so each is uniform and a quiz is balanced."""

    def __init__(self, rng: random.Random, size: int = len(LETTERS)) -> None:
        self._rng = rng
        self._size = size
        self._block: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        if not self._block:
            self._block = list(range(self._size))
            self._rng.shuffle(self._block)
        return self._block.pop()


def arrange(correct: str, wrong: list[str], position: int, rng: random.Random) -> list[str]:
    """Options with ``correct`` at ``position`` and the wrong ones shuffled around it."""
    others = [w.strip() for w in wrong]
    rng.shuffle(others)
    others.insert(position, correct.strip())
    return others


class KeyChecker:
    """The separate check call: answer the finished question from its cited chunk alone."""

    def __init__(self, llm: ChatModel, *, attempts: int = 2) -> None:
        self.llm = llm
        self.attempts = attempts

    def _ask(self, messages: list[Message], model: type[T], meter: Meter | None, max_tokens: int = 24) -> T:
        return complete_structured(
            self.llm,
            messages,
            model,
            what="key check",
            max_tokens=max_tokens,
            attempts=self.attempts,
            temperature=0.0,
            meter=meter,
        )

    def check(self, question: Question, meter: Meter | None = None) -> str | None:
        """None when the checker reaches the same key; otherwise the reason to drop."""
        try:
            if question.type == "mcq":
                mcq = self._ask(
                    mcq_check_messages(question.source_text, question.stem, question.options), McqCheck, meter
                )
                if mcq.choice == "none":
                    return "checker-found-no-answer"
                return self._judge_key(question, meter) if mcq.choice == question.key else "checker-disagreed"
            if question.type == "true-false":
                tf = self._ask(true_false_check_messages(question.source_text, question.stem), TrueFalseCheck, meter)
                if tf.verdict == "not stated":
                    return "checker-found-no-answer"
                return None if (tf.verdict == "true") == (question.answer == "True") else "checker-disagreed"
            short = self._ask(
                short_check_messages(question.source_text, question.stem, question.answer), ShortCheck, meter
            )
            return None if short.verdict == "supported" else "checker-disagreed"
        except StructuredOutputError:
            return "check-output-unusable"

    def _judge_key(self, question: Question, meter: Meter | None) -> str | None:
        """A second look at a multiple-choice key the checker agreed with: is it a right answer to the
        question as asked? Picking the source's option is not enough: a key lifted from its sentence can
        still miss the stem ("a symptom of overfitting" keyed "a suspiciously good offline score"), or a
        wrong answer can be the better one ("local minima" beside "non-convex losses")."""
        sentence = question.citation.evidence or question.source_text
        judged = self._ask(key_judgement_messages(sentence, question.stem, question.answer), KeyJudgement, meter, 16)
        return None if judged.verdict == "correct" else "key-judged-wrong"
