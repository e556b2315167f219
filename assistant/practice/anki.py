"""Anki export: a learner's practised items as an .apkg deck (genanki), each card with its roadmap source.

Ids are stable: the deck's from the learner, each note's guid from the learner and the item, so importing a
later export updates the cards already in Anki instead of adding copies. Every field is text from
documents or the model, so it is HTML-escaped (Anki renders fields as HTML).
"""

from __future__ import annotations

import html
import zlib
from pathlib import Path

import genanki  # type: ignore[import-untyped]

from assistant.errors import TutorError
from assistant.practice.models import LETTERS, InterviewQuestion, Question
from assistant.practice.progress import PracticeItem

MODEL_ID = 1_733_104_117  # fixed forever: Anki matches note types by id
FIELDS = ["Front", "Back", "Source", "Topic"]
CSS = ".card { font-family: sans-serif; font-size: 18px; text-align: left; } .source { color: #666; font-size: 14px; }"
NOTE_TYPE = genanki.Model(
    MODEL_ID,
    "roadmap-tutor card",
    fields=[{"name": f} for f in FIELDS],
    templates=[
        {
            "name": "Card 1",
            "qfmt": "{{Front}}",
            "afmt": '{{FrontSide}}<hr id="answer">{{Back}}<p class="source">{{Source}}</p>',
        }
    ],
    css=CSS,
)


def _text(value: str) -> str:
    return html.escape(" ".join(value.split()))


def _lines(values: list[str]) -> str:
    return "<br>".join(_text(v) for v in values)


def fields_of(item: PracticeItem) -> list[str]:
    """Front, back, source and topic of one item, HTML-escaped."""
    if item.kind == "interview":
        iq = InterviewQuestion.model_validate(item.payload)
        back = "A strong answer covers:<br>" + _lines([f"- {p}" for p in iq.rubric])
        return [_text(iq.question), back, _lines([s.label for s in iq.sources]), _text(item.topic)]
    q = Question.model_validate(item.payload)
    front = _text(q.stem)
    if q.type == "mcq":
        front += "<br>" + _lines([f"{LETTERS[i]}) {o}" for i, o in enumerate(q.options)])
    key = f"{LETTERS[q.answer_index]}) {q.answer}" if q.type == "mcq" and q.answer_index is not None else q.answer
    back = _text(key) + "<br>" + _text(q.explanation)
    return [front, back, _text(q.citation.label), _text(item.topic)]


def deck_id(learner_id: str) -> int:
    return 1_000_000_000 + zlib.crc32(f"roadmap-tutor/{learner_id}".encode())


def build_deck(items: list[PracticeItem], learner_id: str, *, name: str = "roadmap-tutor") -> genanki.Deck:
    deck = genanki.Deck(deck_id(learner_id), name)
    for item in items:
        tags = [f"stage-{item.stage}" if item.stage >= 0 else "own-documents", item.kind]
        tags += [f"topic-{item.topic}"] if item.topic else []
        deck.add_note(
            genanki.Note(
                model=NOTE_TYPE,
                fields=fields_of(item),
                guid=genanki.guid_for("roadmap-tutor", learner_id, item.item_id),
                tags=[t.replace(" ", "_") for t in tags],
            )
        )
    return deck


def write_apkg(items: list[PracticeItem], learner_id: str, out: Path) -> int:
    """Write the deck to ``out`` (replacing it whole, never half-written); the number of cards."""
    if not items:
        raise TutorError(
            "There are no practised items to export yet.", "take a quiz or a mock interview first (`tutor quiz`)."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    genanki.Package(build_deck(items, learner_id)).write_to_file(str(partial))
    partial.replace(out)
    return len(items)
