"""The roadmap corpus: schema, structure, originality, and that each stage's question finds its stage."""

import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from assistant.roadmap import load_roadmap, split_front_matter
from tests.conftest import REPO

KNOWLEDGE = REPO / "knowledge"
GOLDEN = REPO / "evals" / "golden"
REFERENCE = REPO.parent / "shared" / "reference"
ROADMAP = load_roadmap(KNOWLEDGE)


def test_corpus_size_and_schema():
    assert ROADMAP.errors == []
    assert len(ROADMAP.stages) >= 13
    assert sum(s.words for s in ROADMAP.stages) >= 12_000
    assert [s.stage for s in ROADMAP.stages] == list(range(1, len(ROADMAP.stages) + 1))
    for s in ROADMAP.stages:
        assert Path(KNOWLEDGE / s.path).name == f"{s.stage:02d}-{s.id}.md"
        assert 700 <= s.words <= 1600, (s.path, s.words)


def test_topics_links_and_prerequisites_are_well_formed():
    assert ROADMAP.problems() == []


def test_prerequisites_point_backwards():
    order = {s.id: s.stage for s in ROADMAP.stages}
    owner = ROADMAP.topic_owner()
    for s in ROADMAP.stages:
        for p in s.prerequisites:
            assert (order.get(p) or owner[p].stage) <= s.stage, (s.id, p)


def test_validator_catches_broken_documents(tmp_path):
    good = (
        (KNOWLEDGE / "01-ml-engineer-role.md").read_text()
        if (KNOWLEDGE / "01-ml-engineer-role.md").exists()
        else next(KNOWLEDGE.glob("0*.md")).read_text()
    )
    meta, body = split_front_matter(good)
    meta.update(id="alpha", stage=1, prerequisites=["beta"])
    (tmp_path / "01-alpha.md").write_text("---\n" + yaml.safe_dump(meta) + "---\n" + body)
    meta2 = dict(meta, id="beta", stage=2, prerequisites=["alpha"], topics=["no-such-heading"], interview_skip=["zz"])
    (tmp_path / "02-beta.md").write_text(
        "---\n" + yaml.safe_dump(meta2) + "---\n# Beta\n\n## Resources\n\n- [x](ftp://bad) - book, free.\n"
    )
    (tmp_path / "03-gamma.md").write_text("---\nid: Not Kebab\n---\n# Gamma\n")
    problems = load_roadmap(tmp_path).problems()
    text = "\n".join(problems)
    assert "cycle" in text
    assert "no-such-heading" in text
    assert "interview_skip names unknown topic 'zz'" in text
    assert "malformed resource line" in text
    assert "03-gamma.md: front matter" in text


def test_every_stage_says_when_it_was_last_reviewed(tmp_path):
    assert [s.path for s in ROADMAP.stages if not isinstance(s.last_reviewed, date)] == []
    meta, body = split_front_matter(next(KNOWLEDGE.glob("01-*.md")).read_text())
    assert isinstance(meta.pop("last_reviewed"), date)  # YAML reads 2026-12-03 as a date
    (tmp_path / "01-undated.md").write_text("---\n" + yaml.safe_dump(meta) + "---\n" + body)
    meta2 = dict(meta, id="misdated", stage=2, last_reviewed="last spring")
    (tmp_path / "02-misdated.md").write_text("---\n" + yaml.safe_dump(meta2) + "---\n" + body)
    roadmap = load_roadmap(tmp_path)
    assert roadmap.stages == []
    text = "\n".join(roadmap.problems())
    assert "01-undated.md: front matter field last_reviewed" in text
    assert "02-misdated.md: front matter field last_reviewed" in text


def _words(text: str) -> list[str]:
    text = re.sub(r"https?://\S+", " ", text)
    return re.findall(r"[a-z0-9]+", text.lower())


def _project_texts() -> dict[str, str]:
    files = [p for ext in ("md", "py", "yaml", "txt", "json", "toml") for p in REPO.rglob(f"*.{ext}")]
    skip = {".venv", "data", ".git", "node_modules"}
    return {
        str(p.relative_to(REPO)): p.read_text(errors="replace")
        for p in files
        if not skip & set(p.relative_to(REPO).parts) and "tmp" not in p.name
    }


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/reference is not present")
def test_no_sentence_of_the_reference_articles_is_reused():
    shingles: set[str] = set()
    sentences: list[str] = []
    for ref in REFERENCE.glob("roadmap-article-*"):
        raw = ref.read_text(errors="replace")
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", raw):
            w = _words(sentence)
            if len(w) >= 6:
                sentences.append(" ".join(w))
        w = _words(raw)
        shingles |= {" ".join(w[i : i + 10]) for i in range(len(w) - 9)}
    hits = []
    for name, text in _project_texts().items():
        joined = " ".join(_words(text))
        hits += [f"{name}: sentence '{s[:60]}'" for s in sentences if s in joined]
        if name.startswith("knowledge/"):
            w = _words(text)
            hits += [
                f"{name}: '{' '.join(w[i : i + 10])}'" for i in range(len(w) - 9) if " ".join(w[i : i + 10]) in shingles
            ]
    assert hits == []


def _golden_items() -> list[dict]:
    items = []
    for f in sorted(GOLDEN.glob("*.yaml")):
        items += yaml.safe_load(f.read_text()) or []
    return items


def test_golden_sources_exist_in_the_corpus():
    headings: dict[str, set[str]] = {}
    for s in ROADMAP.stages:
        body = split_front_matter((KNOWLEDGE / s.path).read_text())[1]
        headings[s.id] = {line.lstrip("#").strip() for line in body.splitlines() if line.startswith("#")}
    for fixture in (REPO / "evals" / "fixtures").glob("*.md"):  # eval-only documents (injected instructions)
        meta, body = split_front_matter(fixture.read_text())
        if meta.get("id"):
            headings[meta["id"]] = {line.lstrip("#").strip() for line in body.splitlines() if line.startswith("#")}
    for item in _golden_items():
        for src in item.get("reference_sources", []):
            assert src["doc"] in headings, (item["id"], src)
            assert src["heading"] in headings[src["doc"]], (item["id"], src)


PROBES = [(i["stage"], i["question"]) for i in _golden_items() if i.get("probe")]


@pytest.fixture(scope="module")
def corpus_retriever(tmp_path_factory, embedder):
    from assistant.rag.retrieval import Retriever
    from assistant.settings import load_settings
    from assistant.vectorstore.chroma import open_client, open_collection
    from tests.conftest import ingest_folder

    settings = load_settings(env_file=None, DATA_DIR=tmp_path_factory.mktemp("corpus-data"))
    ingest_folder(settings, KNOWLEDGE, embedder)
    # as the tutor searches: hybrid (vector + BM25) with the section priors
    return Retriever(
        open_collection(open_client(settings), settings), embedder, top_k=3, lexical_dir=settings.lexical_dir
    )


def test_every_stage_has_a_probe_question():
    assert sorted(stage for stage, _ in PROBES) == [s.stage for s in ROADMAP.stages]


@pytest.mark.parametrize(("stage", "question"), PROBES)
def test_stage_question_retrieves_its_stage_first(corpus_retriever, stage, question):
    top = corpus_retriever.retrieve(question)[0]
    assert top.stage == stage, (question, top.doc_id, top.heading_path)
