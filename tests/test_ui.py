"""The Streamlit app, headless (AppTest) and served for real (health check)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, ingest_folder, use_fake_server

APP = str(REPO / "ui" / "app.py")


@pytest.fixture
def app_env(monkeypatch, openai_settings, fake_openai):
    use_fake_server(monkeypatch, openai_settings, fake_openai)
    return openai_settings


def test_chat_answers_with_sources(app_env, mini_corpus, embedder, fake_openai):
    ingest_folder(app_env, mini_corpus, embedder)
    fake_openai.responder = lambda body: (
        "Wrap the model in a FastAPI service and package it with Docker <script>alert(1)</script> [1]. "
        "![x](http://evil.example/p.png)"
    )
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    at.chat_input[0].set_value("How do I deploy a model?").run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "FastAPI" in shown
    assert "<script>" not in shown and "http://evil.example" not in shown
    assert any("deploy.md" in e.label for e in at.expander), [e.label for e in at.expander]  # a card to open


def test_missing_index_shows_the_fix(app_env, fake_openai):
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.chat_input[0].set_value("hello there").run()
    assert any("tutor ingest" in e.value for e in at.error)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_health_check(tmp_path):
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.time() + 60
        status = None
        while time.time() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status
            except OSError:
                time.sleep(0.5)
        assert status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
