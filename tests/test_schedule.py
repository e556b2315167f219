"""Spaced repetition with fsrs: which items are scheduled, and how their next review moves."""

from datetime import UTC, datetime, timedelta

from fsrs import Card, Rating, Scheduler, State

from assistant.practice.schedule import ReviewSchedule, needs_review, rating_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def schedule() -> ReviewSchedule:
    return ReviewSchedule(Scheduler(enable_fuzzing=False))


def test_ratings_follow_correctness_and_score():
    assert rating_for("mcq", True, 1.0) == Rating.Good
    assert rating_for("true-false", False, 0.0) == Rating.Again
    assert rating_for("short", True, 0.95) == Rating.Easy
    assert rating_for("short", True, 0.8) == Rating.Good
    assert rating_for("short", False, 0.5) == Rating.Hard
    assert rating_for("interview", False, 0.2) == Rating.Again
    assert needs_review(False, 1.0) and needs_review(True, 0.6) and not needs_review(True, 0.9)


def test_an_item_answered_well_the_first_time_is_not_scheduled():
    assert schedule().review(None, card_id=1, question_type="mcq", correct=True, score=1.0, now=NOW) is None


def test_a_missed_item_comes_back_within_minutes():
    card = schedule().review(None, card_id=1, question_type="mcq", correct=False, score=0.0, now=NOW)
    assert card is not None and card.state == State.Learning
    assert NOW < card.due <= NOW + timedelta(minutes=10)


def test_intervals_grow_as_the_learner_recalls_it():
    s = schedule()
    card = s.review(None, card_id=1, question_type="mcq", correct=False, score=0.0, now=NOW)
    assert card is not None
    gaps = []
    when = card.due
    for _ in range(4):
        card = s.review(card.to_json(), card_id=1, question_type="mcq", correct=True, score=1.0, now=when)
        assert card is not None
        gaps.append(card.due - when)
        when = card.due
    assert gaps == sorted(gaps) and gaps[-1] >= timedelta(days=1)
    again = s.review(card.to_json(), card_id=1, question_type="mcq", correct=False, score=0.0, now=when)
    assert again is not None and again.due - when < timedelta(hours=1)  # a lapse brings it back soon


def test_cards_round_trip_through_json():
    s = schedule()
    card = s.review(None, card_id=42, question_type="short", correct=False, score=0.5, now=NOW)
    assert card is not None
    again = Card.from_json(card.to_json())
    assert again.card_id == 42 and again.due == card.due
    assert 0 <= s.retrievability(card.to_json(), NOW + timedelta(days=3)) <= 1
