"""A real OpenAI-compatible server: llama-cpp-python's own (`python -m llama_cpp.server`) on the small
embedded model, driven through the `tutor` command as a user with their own server would. The fake server
(tests/fakes/openai_server.py) keeps covering the faults a real one will not produce on demand.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assistant.accounting.ledger import Ledger
from tests.conftest import MODELS_DIR, REPO, ingest_folder

SMALL_MODEL = "qwen2.5-coder-0.5b"
ALIAS = "qwen-local"


def small_model_path() -> Path:
    from assistant.errors import ModelFileError
    from assistant.llm.model_files import MODELS, ModelStore

    try:
        return ModelStore(MODELS_DIR).verified_path(MODELS[SMALL_MODEL])
    except ModelFileError as exc:
        pytest.fail(f"{exc} (`make test` prepares it: LOCAL_MODEL={SMALL_MODEL} tutor model prepare)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base_url: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_server(log: Path) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(small_model_path()), "--model_alias", ALIAS]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(os.cpu_count() or 2)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}/v1")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    pytest.fail("llama_cpp.server did not start within 180 s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("server") / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    from assistant.settings import load_settings

    data = tmp_path_factory.mktemp("real") / "data"
    settings = load_settings(env_file=None, DATA_DIR=data, MODEL_CACHE_DIR=MODELS_DIR)
    ingest_folder(settings, REPO / "tests" / "corpus" / "mini", embedder)
    return data


def env_for(server: Server, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PROVIDER": "openai",
        "OPENAI_BASE_URL": server.base_url,
        "CHAT_MODEL": ALIAS,
        "DATA_DIR": str(data),
        "MODEL_CACHE_DIR": str(MODELS_DIR),
        "MAX_ANSWER_TOKENS": "160",
        "LLM_TIMEOUT_S": "120",
    }


def tutor(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "ui.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)


def assert_clean(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_ask_streams_with_sources_and_an_honest_footer(server, data_dir):
    proc = tutor(env_for(server, data_dir), "ask", "What maths do I need before deep learning?")
    assert_clean(proc)
    assert "Sources:" in proc.stdout and "tokens:" in proc.stdout
    footer = next(line for line in proc.stdout.splitlines() if line.startswith("tokens:"))
    rows = Ledger(data_dir / "ledger.sqlite3").rows(kind="chat")
    assert rows and rows[-1].ok and rows[-1].model == ALIAS and rows[-1].prompt_tokens > 0
    if rows[-1].usage_source != "provider":  # this server may not report streamed usage: the footer says so
        assert "estimated" in footer


def _drafted(proc: subprocess.CompletedProcess[str], kind: str) -> int:
    """Drafts the server delivered in valid structured form (verification may still drop weak ones)."""
    assert "Traceback" not in proc.stderr and "HTTP" not in proc.stderr, proc.stderr[-3000:]
    if proc.returncode == 0:
        return int(json.loads(proc.stdout)["generated"])
    # the small model's drafts can all fail verification: that is a clean, one-line outcome, not a transport one
    assert proc.returncode == 2 and "passed verification" in proc.stderr, proc.stderr[-3000:]
    found = re.search(r"\((\d+) drafted", proc.stderr)
    return int(found.group(1)) if found else 0


def test_quiz_and_interview_get_structured_drafts_from_the_server(server, data_dir):
    env = env_for(server, data_dir)
    quiz = tutor(env, "quiz", "--topic", "calculus", "--n", "2", "--json")
    assert _drafted(quiz, "quiz") >= 2  # json_schema refused, json_object with the schema taken: drafts parse
    interview = tutor(env, "interview", "--topic", "system design", "--n", "1", "--json")
    assert _drafted(interview, "interview") >= 1
    rows = Ledger(data_dir / "ledger.sqlite3").rows(kind="chat")
    refused = [r for r in rows if r.error == "StructuredFormatRejected"]
    assert len(refused) <= 2  # negotiated once per process (quiz, interview), then remembered
    costs = tutor(env, "costs", "--by", "model", "--json")
    assert_clean(costs)
    assert ALIAS in costs.stdout


def test_killing_the_server_mid_answer_is_one_line_and_a_failed_row_with_tokens(tmp_path, data_dir):
    doomed = start_server(tmp_path / "doomed.log")
    env = {**env_for(doomed, data_dir), "MAX_ANSWER_TOKENS": "400", "PYTHONUNBUFFERED": "1"}
    before = len(Ledger(data_dir / "ledger.sqlite3").rows(kind="chat"))
    question = "Explain in detail how calculus and linear algebra are used in deep learning."
    cmd = [sys.executable, "-m", "ui.cli", "ask", question]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    seen: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1):
            seen.append(chunk)
            if len(seen) > 40:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(300), "no streamed text within 300 s"
        doomed.proc.kill()  # SIGKILL, mid-answer
        _, err = proc.communicate(timeout=120)
    finally:
        doomed.stop()
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    assert proc.returncode not in (0, None)
    errors = [line for line in err.strip().splitlines() if line.startswith("error:")]  # besides the price notice
    assert len(errors) == 1 and "Fix:" in errors[0] and err.strip().endswith(errors[0]), err
    assert "Traceback" not in err
    rows = Ledger(data_dir / "ledger.sqlite3").rows(kind="chat")[before:]
    assert rows and not rows[-1].ok
    assert rows[-1].prompt_tokens > 0 and rows[-1].completion_tokens > 0  # the prompt was sent, text streamed
