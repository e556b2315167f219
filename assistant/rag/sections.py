"""Section priors: what kind of section a question wants, applied after rank fusion.

Every roadmap stage ends in two sections that are not about its subject: a study plan ("How to study this
stage") and a resource list. Both mention every topic of the stage, so vector search and BM25 rank them high for
any question, and a question about the subject loses its place to them (on the golden set, a resource list came
first for "Which classic algorithms should I learn?"). The other way round, "How should I learn MLOps?" wants
the study plan and got the stage's introduction. So, after fusion:

- a question about *how to study* (how do I learn / get started, a study plan, hours a week) gets the study plan
  of the document it is about (the best-ranked chunk's) first, fetched when the searches did not bring it;
- for any other question, study plans count at ``ASIDE_WEIGHT`` of their fused score, and resource lists do too
  unless the question asks for resources (courses, books, links, reading).

The patterns are plain English rules, readable and tested (tests/test_sections.py); the retriever names what it
applied in its trace.
"""

from __future__ import annotations

import re
from enum import StrEnum

ASIDE_WEIGHT = 0.5  # the share of its fused score a study plan or resource list keeps for an unrelated question

# "How should I learn ...", "How do I get started with ...", "What should I study first", "... and how should I
# learn them?", "hours a week", "Which courses and books should I use to learn ...". Not "Which algorithms should
# I learn?" (a question about the algorithms) and not "How do neural networks learn?".
_ASKS_HOW_TO_STUDY = re.compile(
    r"\b(?:how (?:do|should|can|would) i (?:best )?(?:learn|study|start|get started|begin)"
    r"|(?:how|where) (?:do|should|can) i (?:start|begin)"
    r"|what should i (?:learn|study) (?:about|for|first|next)"
    r"|(?:learn|study) (?:them|it|this|these)\b"
    r"|get started (?:with|in|on)|study plan|hours? (?:a|per) week|in what order"
    r"|(?:courses?|books?)\b.*\bto (?:learn|study))",
    re.IGNORECASE,
)
_ASKS_FOR_RESOURCES = re.compile(
    r"\b(?:resources?|links?|courses?|books?|read(?:ing)?|tutorials?|videos?|certif\w*)\b", re.IGNORECASE
)
_STUDY_PLAN = re.compile(r"\b(?:how to study|study plan|what to study|practice plan)\b", re.IGNORECASE)
RESOURCE_LIST = re.compile(r"\b(?:resources|further reading)\b", re.IGNORECASE)


class Section(StrEnum):
    STUDY_PLAN = "study plan"
    RESOURCES = "resources"
    SUBJECT = "subject"


def section_of(heading_path: str) -> Section:
    """What a chunk's section is, from its heading path."""
    if _STUDY_PLAN.search(heading_path):
        return Section.STUDY_PLAN
    if RESOURCE_LIST.search(heading_path):
        return Section.RESOURCES
    return Section.SUBJECT


def asks_how_to_study(question: str) -> bool:
    return bool(_ASKS_HOW_TO_STUDY.search(question))


def asks_for_resources(question: str) -> bool:
    return bool(_ASKS_FOR_RESOURCES.search(question))


def section_weight(question: str, heading_path: str) -> float:
    """The factor a chunk's fused score is weighted by for ``question`` (1: no prior)."""
    kind = section_of(heading_path)
    if kind is Section.STUDY_PLAN and not asks_how_to_study(question):
        return ASIDE_WEIGHT
    if kind is Section.RESOURCES and not asks_for_resources(question):
        return ASIDE_WEIGHT
    return 1.0
