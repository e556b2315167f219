"""The llama.cpp build check: what the install was built with, and a smoke test in a child process."""

import subprocess
import sys

from assistant.llm.build_check import llama_build, smoke_test


def test_the_build_reports_its_cpu_features():
    build = llama_build()
    assert build.version and "AVX2" in build.features  # every supported build has AVX2 at least
    assert "AMX_INT8" not in build.features  # the AMX kernels stay off (they crash where AMX is not granted)
    assert build.summary.startswith(f"llama-cpp-python {build.version}")


def test_the_smoke_test_passes_on_the_model_and_names_the_failure_otherwise(local_model_path, tmp_path):
    assert smoke_test(local_model_path) is None
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    problem = smoke_test(broken)
    assert problem is not None and problem.startswith("exit ")


def test_tutor_model_check_and_status_name_the_build(local_model_path):
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "model", "check"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: llama-cpp-python ") and "generates" in done.stdout
    status = subprocess.run(
        [sys.executable, "-m", "ui.cli", "model", "status"], capture_output=True, text=True, timeout=120, check=False
    )
    assert status.returncode == 0 and "CPU features: " in status.stdout
