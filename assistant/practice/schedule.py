"""Spaced repetition for missed or weak items, with the maintained FSRS scheduler (``fsrs``).

An item enters the schedule the first time the learner misses it or answers it weakly; from then on
every attempt at it is a review that FSRS reschedules (a miss comes back within minutes, a confident
answer days later). Items answered well the first time are not scheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fsrs import Card, Rating, Scheduler

from assistant.practice.models import QuestionType

WEAK_SCORE = 0.7  # below this (or incorrect) an item needs review
# A learner's own rating of a review (the app's again/hard/good/easy buttons), and the score it stands for.
RATINGS: dict[str, Rating] = {"again": Rating.Again, "hard": Rating.Hard, "good": Rating.Good, "easy": Rating.Easy}
RATING_SCORES: dict[str, float] = {"again": 0.0, "hard": 0.5, "good": 0.8, "easy": 1.0}


def needs_review(correct: bool, score: float) -> bool:
    return not correct or score < WEAK_SCORE


def rating_for(question_type: QuestionType | str, correct: bool, score: float) -> Rating:
    """FSRS rating of an attempt: exact types are right (Good) or wrong (Again); scored ones graded."""
    if question_type in ("mcq", "true-false"):
        return Rating.Good if correct else Rating.Again
    if score < 0.4:
        return Rating.Again
    if score < WEAK_SCORE:
        return Rating.Hard
    return Rating.Good if score < 0.9 else Rating.Easy


class ReviewSchedule:
    def __init__(self, scheduler: Scheduler | None = None) -> None:
        self.scheduler = scheduler or Scheduler()

    def review(
        self,
        card_json: str | None,
        *,
        card_id: int,
        question_type: QuestionType | str,
        correct: bool,
        score: float,
        now: datetime | None = None,
        rating: str | None = None,
    ) -> Card | None:
        """The item's card after this attempt; None when the item is not (yet) scheduled. ``rating`` is the
        learner's own (again/hard/good/easy) where given, else derived from the grade."""
        if card_json is None and not needs_review(correct, score):
            return None
        card = Card.from_json(card_json) if card_json else Card(card_id=card_id, due=now)
        chosen = RATINGS[rating] if rating else rating_for(question_type, correct, score)
        card, _log = self.scheduler.review_card(card, chosen, review_datetime=now or datetime.now(UTC))
        return card

    def new_card(self, card_id: int, now: datetime) -> Card:
        """A card never reviewed (a new flashcard), due ``now``."""
        return Card(card_id=card_id, due=now)

    def retrievability(self, card_json: str, now: datetime | None = None) -> float:
        return float(self.scheduler.get_card_retrievability(Card.from_json(card_json), now))
