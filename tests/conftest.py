"""Shared fixtures: real components in temp folders, a fake OpenAI-compatible server, the real model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import assistant  # noqa: F401  (applies offline hygiene before anything else is imported)
from assistant.settings import Settings, load_settings
from tests.fakes.openai_server import FakeOpenAI

REPO = Path(__file__).resolve().parent.parent
MINI = Path(__file__).parent / "corpus" / "mini"
MODELS_DIR = Path(os.environ.get("MODEL_CACHE_DIR", REPO / "data" / "models"))


@pytest.fixture
def make_settings(tmp_path: Path) -> Any:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "DATA_DIR": tmp_path / "data",
            "MODEL_CACHE_DIR": MODELS_DIR,
            "KNOWLEDGE_DIR": REPO / "knowledge",
            # The answer pipeline's tests read the checked answer itself; quoted key points (on by default)
            # are tested in test_key_points.py and test_e2e_local.py.
            "KEY_POINTS": 0,
        }
        values.update(overrides)
        return load_settings(env_file=None, **values)

    return build


@pytest.fixture
def mini_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(MINI, target)
    return target


@pytest.fixture(scope="session")
def embedder() -> Any:
    from assistant.embedding.minilm import load_embedder

    return load_embedder()


@pytest.fixture
def crawl(make_settings: Any) -> Iterator[Any]:
    """A factory of loopback-allowed, unthrottled crawlers (closed after the test)."""
    from ingest.crawl import Crawler

    made: list[Crawler] = []

    def build(**overrides: Any) -> Crawler:
        values = {"FETCH_ALLOW_LOOPBACK": True, "FETCH_HOST_INTERVAL_S": 0, "FETCH_TIMEOUT_S": 5, **overrides}
        made.append(Crawler(make_settings(**values)))
        return made[-1]

    yield build
    for crawler in made:
        crawler.close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def openai_settings(make_settings: Any, fake_openai: FakeOpenAI) -> Settings:
    return make_settings(
        PROVIDER="openai",
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_KEY=fake_openai.api_key,
        CHAT_MODEL="gpt-4o-mini",
        LLM_MAX_RETRIES=0,
        LLM_TIMEOUT_S=10,
    )


def fake_server_env(fake: FakeOpenAI, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment settings for a process of ours that talks to the fake server and keeps its data in
    ``data_dir`` (the `tutor` command, `tutor serve`, Streamlit pages)."""
    return {
        "PROVIDER": "openai",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": fake.api_key,
        "CHAT_MODEL": "gpt-4o-mini",
        "LLM_MAX_RETRIES": "0",
        "DATA_DIR": str(data_dir),
        "KEY_POINTS": "0",
        **extra,
    }


def use_fake_server(monkeypatch: pytest.MonkeyPatch, settings: Settings, fake: FakeOpenAI, **extra: str) -> None:
    """Environment for code that loads its own settings (the `tutor` command, Streamlit pages): the data
    folder of ``settings`` and the fake OpenAI-compatible server."""
    env = {
        "DATA_DIR": str(settings.data_dir),
        "PROVIDER": "openai",
        "CHAT_MODEL": "gpt-4o-mini",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": fake.api_key,
        "KEY_POINTS": "0",
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def tutor_runner(cwd: Path, settings: Settings, fake: FakeOpenAI, **extra: str) -> Any:
    """``run(*args, stdin=None) -> (process, ledger)``: the `tutor` command in a subprocess on the fake server,
    with the data folder of ``settings`` and ``extra`` environment settings."""
    env = {**os.environ, **fake_server_env(fake, settings.data_dir, **extra)}

    def run(*args: str, stdin: str | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
        from assistant.accounting.ledger import Ledger

        cmd = [sys.executable, "-m", "ui.cli", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, input=stdin, timeout=180)
        return proc, Ledger(settings.ledger_path)

    return run


@pytest.fixture(scope="session")
def local_model_path() -> Path:
    """The real embedded model. `make test` prepares it first; a bare pytest run says how."""
    from assistant.errors import ModelFileError
    from assistant.llm.model_files import MODELS, ModelStore

    try:
        return ModelStore(MODELS_DIR).verified_path(MODELS["qwen2.5-coder-1.5b"])
    except ModelFileError as exc:
        pytest.fail(f"{exc} (run `make model` before pytest)")


def ingest_folder(settings: Settings, folder: Path, embedder: Any) -> Any:
    from assistant.vectorstore.chroma import open_client
    from ingest.pipeline import Ingestor

    return Ingestor(settings, open_client(settings), lambda: embedder).run([folder])
