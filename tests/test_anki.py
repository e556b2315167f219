"""`tutor export anki`: a valid Anki package read back, stable note ids, filters, escaping, clear errors."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.practice.models import Citation, InterviewQuestion, Question, SourceRef
from assistant.practice.progress import AttemptIn, ProgressStore
from tests.fixtures.practice.helpers import missed_question
from ui.cli import app


@pytest.fixture
def store(make_settings, monkeypatch, tmp_path) -> ProgressStore:
    settings = make_settings()
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.chdir(tmp_path)
    return ProgressStore(settings.progress_path, settings.learner_id)


def answered(store: ProgressStore) -> None:
    """One missed MCQ (no stage), one MCQ answered right in stage 5 with markup in it, one interview item."""
    missed_question(store)
    q = Question(
        id="0123456789ab", type="mcq", stem="Which <b>penalty</b> shrinks weights smoothly?",
        options=["L2", "L1", "<img src=x onerror=alert(1)>", "Dropout"], answer_index=0, answer="L2",
        explanation='The roadmap says: "L2 shrinks all weights."',
        citation=Citation(
            chunk_id="c2", source="knowledge/05-classic-ml.md", heading_path="Classic ML > Regularisation"
        ),
        source_text="L2 shrinks all weights.",
    )  # fmt: skip
    store.record(AttemptIn(item_id=q.id, kind="quiz", question_type="mcq", topic="regularisation", stage=5,
                           question=q.stem, response="A", correct=True, score=1.0,
                           payload=q.model_dump(mode="json")))  # fmt: skip
    iq = InterviewQuestion(
        id="fedcba987654", level="junior", kind="conceptual", topic="model-monitoring",
        question="How would you notice that a deployed model has drifted?",
        rubric=["Compare input distributions with PSI or KS tests", "Track delayed labels"],
        sources=[SourceRef(chunk_id="c3", source="knowledge/10-mlops.md", heading_path="MLOps > Monitoring")],
    )  # fmt: skip
    store.record(AttemptIn(item_id=iq.id, kind="interview", question_type="conceptual", topic="model-monitoring",
                           stage=10, question=iq.question, response="...", correct=False, score=0.3,
                           payload=iq.model_dump(mode="json")))  # fmt: skip


def notes(apkg: Path) -> dict[str, tuple[list[str], str]]:
    """guid -> (fields, tags), read from the package's SQLite collection as Anki reads it."""
    with zipfile.ZipFile(apkg) as z:
        assert "collection.anki2" in z.namelist()
        target = apkg.with_suffix(".anki2")
        target.write_bytes(z.read("collection.anki2"))
    with sqlite3.connect(target) as db:
        rows = db.execute("SELECT guid, flds, tags FROM notes").fetchall()
        assert db.execute("SELECT COUNT(*) FROM cards").fetchone()[0] == len(rows)
    return {guid: (flds.split("\x1f"), tags.strip()) for guid, flds, tags in rows}


def export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["export", "anki", *args])
    return result.exit_code, result.output


def test_every_practised_item_becomes_a_card_with_its_source(store, tmp_path):
    answered(store)
    code, out = export("--out", str(tmp_path / "deck.apkg"))
    assert code == 0 and "wrote 3 card(s)" in out
    found = notes(tmp_path / "deck.apkg")
    assert len(found) == 3
    fronts = {fields[0]: (fields, tags) for fields, tags in found.values()}
    mcq, tags = fronts[next(f for f in fronts if "penalty" in f and "shrinks" in f)]
    assert "&lt;b&gt;penalty&lt;/b&gt;" in mcq[0] and "&lt;img src=x" in mcq[0] and "<img" not in mcq[0]
    assert mcq[1].startswith("A) L2") and mcq[2] == "knowledge/05-classic-ml.md — Classic ML &gt; Regularisation"
    assert "stage-5" in tags and "topic-regularisation" in tags
    interview = next(f for f in found.values() if "drifted" in f[0][0])[0]
    assert "PSI or KS" in interview[1] and "knowledge/10-mlops.md" in interview[2]


def test_a_re_export_keeps_note_ids_so_anki_updates_instead_of_duplicating(store, tmp_path):
    answered(store)
    export("--out", str(tmp_path / "one.apkg"))
    missed_question(store)  # answered again: the same item
    export("--out", str(tmp_path / "two.apkg"))
    assert set(notes(tmp_path / "one.apkg")) == set(notes(tmp_path / "two.apkg"))


def test_missed_and_stage_filters(store, tmp_path):
    answered(store)
    code, out = export("--missed", "--out", str(tmp_path / "missed.apkg"))
    assert code == 0 and "wrote 2 missed card(s)" in out  # the wrong MCQ and the weak interview answer
    assert not any("shrinks weights" in f[0] for f, _ in notes(tmp_path / "missed.apkg").values())
    code, out = export("--stage", "5", "--out", str(tmp_path / "five.apkg"))
    assert code == 0 and len(notes(tmp_path / "five.apkg")) == 1


def test_nothing_to_export_is_one_clear_line_and_no_file(store, tmp_path):
    code, out = export("--out", str(tmp_path / "none.apkg"))
    assert code == 2 and "no practised items" in out and "tutor quiz" in out
    assert not (tmp_path / "none.apkg").exists()
