import subprocess
import sys

import pytest

from assistant.errors import SettingsError
from assistant.settings import load_settings


def test_defaults_are_local_and_offline(tmp_path):
    s = load_settings(env_file=None, DATA_DIR=tmp_path)
    assert s.provider == "local"
    assert s.chroma_dir == tmp_path / "chroma"
    assert s.models_dir == tmp_path / "models"


def test_env_file_is_read(tmp_path):
    env = tmp_path / ".env"
    env.write_text("TOP_K=7\nLEARNER_ID=ada\n")
    s = load_settings(env_file=env)
    assert (s.top_k, s.learner_id) == (7, "ada")


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"PROVIDER": "anthropic"}, "PROVIDER"),
        ({"TOP_K": "many"}, "TOP_K"),
        ({"CHROMA_PORT": 70000}, "CHROMA_PORT"),
        ({"CHUNK_SIZE": 100, "CHUNK_OVERLAP": 200}, "CHUNK_OVERLAP"),
        ({"PROVIDER": "openai"}, "OPENAI_API_KEY"),
    ],
)
def test_invalid_settings_name_the_variable(tmp_path, overrides, variable):
    with pytest.raises(SettingsError) as info:
        load_settings(env_file=None, DATA_DIR=tmp_path, **overrides)
    message = str(info.value)
    assert variable in message
    assert "\n" not in message
    assert ".env" in message


def test_openai_compatible_server_needs_no_key(tmp_path):
    s = load_settings(env_file=None, PROVIDER="openai", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    assert s.api_key == "not-needed"


def test_cli_reports_bad_setting_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PROVIDER": "nonsense", "DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "ask", "hello"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "PROVIDER" in proc.stderr and "Traceback" not in proc.stderr
