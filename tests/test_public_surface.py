"""The public surface: __all__ lists what users call, help() shows the client's resource groups,
the environment convention, one rule for str images, and the README's examples (they run and
pass mypy --strict)."""

from __future__ import annotations

import os
import pydoc
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

import face_async
from face_async import AsyncFaceClient, FaceValidationError, InvalidURL
from face_async.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(face_async).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)  # subpackages
    }
    public -= {"annotations"}  # from __future__
    assert face_async.__all__ == sorted(face_async.__all__)
    assert set(face_async.__all__) == public


def test_every_exported_name_is_documented() -> None:
    undocumented = [
        name
        for name in face_async.__all__
        if isinstance(getattr(face_async, name), type) and not getattr(face_async, name).__doc__
    ]
    assert undocumented == []


def test_package_is_typed() -> None:
    assert (Path(face_async.__file__).parent / "py.typed").exists()


def readme_examples() -> list[str]:
    """The README's Python examples, in order (the first is the Quickstart)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", readme, re.S)


def test_all_lists_what_users_call_only() -> None:
    # Request models are built by the methods; no method accepts one.
    exported = [getattr(face_async, name) for name in face_async.__all__]
    assert not [
        value for value in exported
        if isinstance(value, type) and value.__name__.endswith("Request")
        and not issubclass(value, Exception)
    ]  # fmt: skip
    for internal in (
        "Journal",
        "makespan_floor",
        "ImageUrl",
        "MetaDataContract",
        "NameAndUserDataContract",
        "NonNullableNameAndNullableUserDataContract",
    ):
        assert internal not in face_async.__all__
        assert not hasattr(face_async, internal)
    for used in (
        "AsyncFaceClient",
        "enroll",
        "enroll_iter",
        "PersonScheduler",
        "RetryPolicy",
        "FaceError",
        "DetectedFace",
        "RecognitionModel",
    ):
        assert used in face_async.__all__


def test_help_shows_the_resource_groups() -> None:
    text = pydoc.render_doc(AsyncFaceClient, renderer=pydoc.plaintext)
    for group in (
        "face",
        "person_groups",
        "person_group_persons",
        "large_person_groups",
        "large_person_group_persons",
        "face_lists",
        "large_face_lists",
        "snapshots",
    ):
        assert re.search(rf"\b{group}\b", text), group
    assert "from_env" in text


async def test_from_env_reads_face_endpoint_and_face_apikey(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACE_ENDPOINT", emulator.url)
    monkeypatch.setenv("FACE_APIKEY", emulator.key)
    async with AsyncFaceClient.from_env() as client:
        assert await client.person_groups.list() == []
    monkeypatch.delenv("FACE_APIKEY")
    monkeypatch.setenv("OTHER_KEY", emulator.key)
    async with AsyncFaceClient.from_env(key_env="OTHER_KEY") as client:
        assert client.endpoint.base_url.startswith(emulator.url)
    with pytest.raises(FaceValidationError, match="FACE_APIKEY") as missing_key:
        AsyncFaceClient.from_env()
    assert missing_key.value.parameter == "key"
    monkeypatch.delenv("FACE_ENDPOINT")
    with pytest.raises(FaceValidationError, match="FACE_ENDPOINT") as missing_endpoint:
        AsyncFaceClient.from_env(key_env="OTHER_KEY")
    assert emulator.key not in str(missing_endpoint.value)


async def test_a_str_image_is_a_url_only_with_http_or_https(
    emulator: Emulator, client: AsyncFaceClient, tmp_path: Path
) -> None:
    from face_async.emulator import make_face_image

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make_face_image("ada"))
    for text in (str(photo), "photo.jpg", "ftp://host/a.jpg", "www.example.com/a.jpg"):
        with pytest.raises(FaceValidationError, match=r"pass a pathlib\.Path for a file"):
            await client.face.detect(text)
    assert emulator.stats.requests == {}  # refused before any request
    with pytest.raises(InvalidURL):  # any case is a URL: sent, and the service answers
        await client.face.detect("HTTPS://images.example/unknown.jpg")
    emulator.state.register_url_image("https://images.example/ada.jpg", make_face_image("ada"))
    assert len(await client.face.detect("https://images.example/ada.jpg")) == 1
    assert len(await client.face.detect(photo)) == 1


async def test_enroll_applies_the_same_str_rule(
    emulator: Emulator, client: AsyncFaceClient
) -> None:
    with pytest.raises(FaceValidationError, match=r"pass a pathlib\.Path"):
        await face_async.enroll(client, "g", {"Ada": ["photo.jpg"]})
    assert emulator.stats.requests == {}


def test_readme_quickstart_runs_and_leaves_nothing_behind(tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(readme_examples()[0], encoding="utf-8")
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
        env={**os.environ, "TMPDIR": str(temp_root), "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "404 PersonGroupNotFound" in done.stdout
    assert "person_group_id" in done.stdout
    assert list(temp_root.iterdir()) == []  # its temporary folder is gone
    assert tempfile.gettempdir() != str(temp_root)


def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """What CI runs (.ci/run): every Python example of the README, extracted, type-checks."""
    examples = readme_examples()
    assert len(examples) >= 4
    files = []
    for number, code in enumerate(examples):
        path = tmp_path / f"readme_example_{number}.py"
        path.write_text(code, encoding="utf-8")
        files.append(str(path))
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *files],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"no issues found in {len(files)} source files" in done.stdout
