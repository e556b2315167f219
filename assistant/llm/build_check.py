"""Which llama.cpp build this install is, and whether it runs: a smoke test for a native build.

`make setup` builds llama-cpp-python for the CPU it runs on (``-DGGML_NATIVE=ON``) with the AMX kernels off,
because those crash where the OS or VM does not grant AMX to the process. An instruction the machine cannot
run kills the process with SIGILL, which no Python code can catch, so the smoke test loads the model and
generates a few tokens in a child process; `make model` rebuilds for portable AVX2 when it fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

_CHILD = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=2, verbose=False)
out = llm.create_completion("1, 2, 3,", max_tokens=4, temperature=0.0)
print(repr(out["choices"][0]["text"]))
"""


class LlamaBuild(BaseModel):
    version: str
    features: list[str]  # the instruction sets llama.cpp reports as on ("AVX2", "AVX512", ...)
    system_info: str

    @property
    def summary(self) -> str:
        wide = [f for f in ("AVX512", "AVX512_VNNI", "AVX2", "AMX_INT8") if f in self.features]
        return f"llama-cpp-python {self.version}, CPU features: {', '.join(wide) or 'none of AVX2/AVX-512'}"


def llama_build() -> LlamaBuild:
    """The installed llama.cpp's version and the CPU features it was built with (imports llama_cpp)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    features = sorted({m.group(1) for m in re.finditer(r"([A-Z0-9_]+) = 1\b", info)})
    return LlamaBuild(version=llama_cpp.__version__, features=features, system_info=" ".join(info.split()))


def smoke_test(model: Path, timeout_s: float = 300) -> str | None:
    """None when the build loads ``model`` and generates in a child process; else why it failed."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(model)], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return f"no tokens within {timeout_s:.0f} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        return f"killed by signal {-done.returncode} (an instruction this CPU does not run, most likely)"
    tail = done.stderr.strip().splitlines()[-1:] or [""]
    return f"exit {done.returncode}: {tail[0][:200]}"
