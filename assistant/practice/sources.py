"""Study material for a practice topic: the retrieved chunks questions may be built from.

Only chunks at or above the relevance threshold count. When none does, the learner is told so,
with the nearest roadmap topics to try instead, and no question is invented.
"""

from __future__ import annotations

import re

from assistant.errors import TutorError
from assistant.practice.models import Citation, SourceRef
from assistant.rag.retrieval import RetrievedChunk, Retriever
from assistant.roadmap import Roadmap, slug
from assistant.text import split_sentences

MIN_WORDS = 25  # shorter chunks (a lone heading, a link) make poor questions
SKIP_HEADINGS = {"resources"}  # link lists: nothing to ask about
# Sections about studying rather than the subject (resource notes, week-by-week plans): questions and rubrics
# come from the other sections of a topic when it has any ("What is the duration of the six-week study
# period?", "Goku Mohandas's free course takes one project ...", seen on the MLOps quiz).
# Course, book and certification notes are study resources too: "What is the quickest route to fine-tuning?"
# keyed "free courses", from the Hugging Face course note, in the audit's transformers quiz.
STUDY_SECTIONS = re.compile(
    r"\b(resources|sources|how to study|further reading|courses|books|certifications?)\b", re.IGNORECASE
)


def about_the_subject(found: list[RetrievedChunk]) -> list[RetrievedChunk]:
    """``found`` without study plans and resource notes, unless that leaves nothing."""
    return [c for c in found if not STUDY_SECTIONS.search(c.heading_path)] or found


BAND = 0.2  # keep chunks within this cosine of the best hit, so questions stay on the topic


class NothingRelevantError(TutorError):
    """The index has nothing relevant enough to build practice questions from."""


SENTENCE_WORDS = (8, 60)  # a key sentence long enough to hold a fact, short enough to be one
_MARKUP = re.compile(r"\*\*|__|`|\[([^\]]*)\]\([^)]*\)")


SELF_CHECK = re.compile(r"^you know it when\b", re.I)  # a stage's self-test line, not a fact to remember
# The roadmap describing itself is no fact about the field: "Stage 7 covers the engineering around a pretrained
# model" and "stage 10 is about depth" became items in the 12-08 audit ("What is the main focus of stage 10?").
# ZeRO's "stage 1 shards optimiser states" is a fact and stays.
ROADMAP_OUTLINE = re.compile(r"\bstage \d+(?:'s)? (?:covers|is about)\b", re.I)
# A worked example's set-up is not a fact: "Suppose ... 'prize' appears in 60% of spam" became a true/false item
# stating made-up numbers as truth, and its "Then P(spam | 'prize') = ... = 0.75" a question without its givens.
SUPPOSITION = re.compile(r"^(suppose|imagine|assume|say|let'?s say|picture|for (?:example|instance), suppose)\b", re.I)
# A key sentence must stand alone: "Evidently and NannyML compute these reports" means nothing without the sentence
# before it.
REFERS_BACK = re.compile(
    r"^(this|these|that|those|it|its|they|their|such|both|here|then|so|thus|hence)\b"
    r"|\b(these|those|them|that last|the above|above|the same (?:idea|way|thing))\b",
    re.I,
)


def about_the_roadmap(sentence: str) -> bool:
    """A stage's self-test line or the roadmap's outline of itself: read by the learner, no fact to ask about."""
    return bool(SELF_CHECK.match(sentence) or ROADMAP_OUTLINE.search(sentence))


def whole(sentence: str) -> bool:
    """A complete sentence, not a piece of one cut by a formula or a line break ("... vectors, and")."""
    return sentence[:1].isupper() and sentence.rstrip().endswith((".", "!", "?"))


def stands_alone(sentence: str) -> bool:
    """A key sentence that states a fact by itself: whole, not a self-check line, not leaning on the one before.

    Seen on the embedded model: "You know it when you can derive the gradient ... by hand" became a quiz keyed
    "by hand"; "Evidently and NannyML compute these reports" made a flashcard that meant nothing alone."""
    return (
        whole(sentence)
        and not about_the_roadmap(sentence)
        and not SUPPOSITION.match(sentence)
        and not REFERS_BACK.search(sentence)
    )


def key_sentences(text: str, min_words: int = SENTENCE_WORDS[0]) -> list[str]:
    """The sentences of a chunk a question can be anchored on, in document order.

    Headings, code and table lines are skipped; list items count as sentences; bold markers, backticks
    and link targets are removed so the sentence reads as plain text (single ``*`` and ``_`` stay: they
    are often maths).
    """
    blocks: list[str] = []
    paragraph: list[str] = []
    in_code = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or line.startswith(("#", "|")) or not line:
            blocks.append(" ".join(paragraph))
            paragraph = []
            continue
        if re.match(r"^([-*+]|\d+[.)])\s+", line):
            blocks.append(" ".join(paragraph))
            paragraph = [re.sub(r"^([-*+]|\d+[.)])\s+", "", line)]
            continue
        paragraph.append(line)
    blocks.append(" ".join(paragraph))
    found = []
    for block in blocks:
        for sentence in split_sentences(_MARKUP.sub(lambda m: m.group(1) or "", block)):
            words = len(sentence.split())
            if min_words <= words <= SENTENCE_WORDS[1]:
                found.append(sentence.strip())
    return found


def topic_of(chunk: RetrievedChunk) -> str:
    """The roadmap topic id of the section a chunk comes from ('' outside any topic)."""
    topics = {t for t in chunk.topics.split(",") if t}
    for part in reversed(chunk.heading_path.split(" > ")):
        if slug(part) in topics:
            return slug(part)
    return ""


def usable(chunk: RetrievedChunk) -> bool:
    parts = {slug(p) for p in chunk.heading_path.split(" > ")}
    return len(chunk.text.split()) >= MIN_WORDS and not parts & SKIP_HEADINGS


def ref_of(chunk: RetrievedChunk) -> SourceRef:
    return SourceRef(
        chunk_id=chunk.id,
        source=chunk.source,
        heading_path=chunk.heading_path or chunk.title,
        doc_id=chunk.doc_id,
        stage=chunk.stage,
        topic=topic_of(chunk),
    )


def citation_of(chunk: RetrievedChunk, evidence: str) -> Citation:
    return Citation(**ref_of(chunk).model_dump(), evidence=evidence)


def topic_label(chunk: RetrievedChunk, roadmap: Roadmap | None) -> str:
    topic = topic_of(chunk)
    if topic and roadmap is not None:
        return roadmap.topic_title(topic)
    return chunk.heading or chunk.title


def neighbouring_material(
    retriever: Retriever,
    query: str,
    used: list[RetrievedChunk],
    *,
    roadmap: Roadmap | None,
    limit: int = 4,
) -> tuple[list[RetrievedChunk], list[str]]:
    """More chunks from the other sections of the stage ``used`` comes from, nearest to ``query`` first.

    Used when a topic's own material runs out before a quiz is full: (the chunks, their section labels).
    A learner's own documents (no stage) are not widened.
    """
    stages = {c.stage for c in used if c.stage >= 0}
    if len(stages) != 1:
        return [], []
    seen = {c.id for c in used}
    found = retriever.retrieve(query, top_k=max(limit * 6, 24), stage=stages.pop())
    # study plans and resource lists are not quiz material: "the duration of each week in the study plan"
    extra = [c for c in found if c.id not in seen and usable(c) and not STUDY_SECTIONS.search(c.heading_path)][:limit]
    labels: list[str] = []
    for chunk in extra:
        label = topic_label(chunk, roadmap)
        if label not in labels:
            labels.append(label)
    return extra, labels


def nearest_topics(retriever: Retriever, query: str, roadmap: Roadmap | None, limit: int = 3) -> list[str]:
    """Titles of the roadmap sections closest to ``query``, best first, however weak the match."""
    seen: list[str] = []
    for chunk in retriever.retrieve(query, top_k=12):
        label = topic_label(chunk, roadmap)
        if usable(chunk) and label and label not in seen:
            seen.append(label)
    return seen[:limit]


def roadmap_topic(query: str, roadmap: Roadmap | None) -> str | None:
    """The roadmap topic id ``query`` names (by id or heading, ignoring case and punctuation), if any."""
    if roadmap is None:
        return None
    wanted = slug(query)
    for stage in roadmap.stages:
        for topic in stage.topics:
            if wanted in (topic, slug(stage.headings.get(topic, ""))):
                return topic
    return None


def find_material(
    retriever: Retriever,
    query: str,
    *,
    roadmap: Roadmap | None,
    min_score: float,
    stage: int | None = None,
    limit: int = 6,
) -> list[RetrievedChunk]:
    """The chunks to build questions from, best first; NothingRelevantError when there are none.

    When the query names a roadmap topic, the chunks of that topic's section are used; otherwise the
    relevant chunks within ``BAND`` of the best one.
    """
    query = query.strip()
    if not query:
        raise TutorError("The topic is empty.", "pass --topic with a roadmap topic, e.g. --topic 'gradient descent'.")
    found = retriever.retrieve(query, top_k=max(limit * 4, 24), stage=stage)
    relevant = [c for c in found if c.score >= min_score and usable(c)]
    named = roadmap_topic(query, roadmap)
    own = [c for c in found if named and topic_of(c) == named and usable(c)]
    if relevant and own:  # a roadmap topic by name: its own sections, not look-alikes elsewhere
        return about_the_subject(own)[:limit]
    if relevant:
        floor = max(min_score, relevant[0].score - BAND)
        return about_the_subject([c for c in relevant if c.score >= floor])[:limit]
    best = max((c.score for c in found), default=None)
    where = f" in stage {stage}" if stage is not None else ""
    scored = f" (best match {best:.2f}, threshold {min_score:.2f})" if best is not None else ""
    near = nearest_topics(retriever, query, roadmap)
    fix = (
        "try a roadmap topic such as " + ", ".join(f"'{t}'" for t in near) + "."
        if near
        else "run `tutor ingest` to index the roadmap, then pick a topic from it."
    )
    raise NothingRelevantError(f"Nothing in the roadmap index{where} is relevant to '{query}'{scored}.", fix)
