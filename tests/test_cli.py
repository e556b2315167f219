import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ui.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args", [[], ["ask"], ["ingest"], ["serve"], ["model"], ["model", "prepare"], ["model", "status"]]
)
def test_every_command_has_help(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_empty_question_is_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "ui.cli", "ask", "  "], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


def test_ask_without_index_names_the_fix(tmp_path, monkeypatch, fake_openai):
    monkeypatch.chdir(tmp_path)
    env = {"DATA_DIR": str(tmp_path), "PROVIDER": "openai", "OPENAI_BASE_URL": fake_openai.base_url}
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "ask", "what is a tensor"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
    )
    assert proc.returncode == 2 and "tutor ingest" in proc.stderr and "Traceback" not in proc.stderr


def test_ingest_missing_path_fails_without_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--json"])
    assert result.exit_code == 1
    assert "path does not exist" in result.output


LIGHT_RUN = """
import sys
from typer.testing import CliRunner
from ui.cli import app
result = CliRunner().invoke(app, [sys.argv[1]])
heavy = sorted(m for m in ("llama_index.core", "chromadb", "llama_cpp", "torch", "openai") if m in sys.modules)
print(result.exit_code, ",".join(heavy) or "none")
"""


@pytest.mark.parametrize("command", ["progress", "costs", "--help"])
def test_commands_that_read_only_the_stores_import_no_model_and_no_index(command, tmp_path):
    """`tutor progress` took 2.6 s of imports (llama-index through the quiz prompts); none of it is needed."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "KNOWLEDGE_DIR": str(REPO / "knowledge")}
    proc = subprocess.run(
        [sys.executable, "-c", LIGHT_RUN, command], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-2:] == ["0", "none"], proc.stdout
