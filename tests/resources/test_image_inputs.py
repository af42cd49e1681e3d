"""Image inputs: every accepted shape, the documented size/format limits, files off the loop."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from face_async._errors import FaceValidationError
from face_async._images import MAX_IMAGE_BYTES, check_image_bytes, image_format, load_image
from face_async.emulator import make_face_image

JPEG = make_face_image("alice")


async def test_bytes_like_inputs_become_stream_data() -> None:
    for value in (JPEG, bytearray(JPEG), memoryview(JPEG)):
        loaded = await load_image(value)
        assert loaded.data == JPEG
        assert loaded.url is None


async def test_url_becomes_url_variant() -> None:
    loaded = await load_image("https://example.invalid/alice.jpg")
    assert loaded.url == "https://example.invalid/alice.jpg"
    assert loaded.data is None


@pytest.mark.parametrize("text", ["alice.jpg", "/tmp/alice.jpg", "ftp://host/a.jpg", "https://"])
async def test_a_str_that_is_not_an_http_url_is_refused(text: str) -> None:
    with pytest.raises(FaceValidationError, match=r"pathlib\.Path") as info:
        await load_image(text)
    assert info.value.parameter == "image"


async def test_path_is_read_in_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alice.jpg"
    path.write_bytes(JPEG)
    readers: list[str] = []
    real_open = open

    def spying_open(*args: object, **kwargs: object) -> object:
        readers.append(threading.current_thread().name)
        return real_open(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spying_open)
    loaded = await load_image(path)
    assert loaded.data == JPEG
    assert readers
    assert threading.main_thread().name not in readers


async def test_binary_file_objects(tmp_path: Path) -> None:
    assert (await load_image(io.BytesIO(JPEG))).data == JPEG
    path = tmp_path / "alice.jpg"
    path.write_bytes(JPEG)
    with path.open("rb") as file:
        assert (await load_image(file)).data == JPEG


async def test_text_mode_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("x" * 2000)
    with path.open("r") as file, pytest.raises(FaceValidationError, match="binary mode"):
        await load_image(file)


async def test_other_types_are_refused() -> None:
    with pytest.raises(FaceValidationError, match="image"):
        await load_image(12345)


def test_size_limits() -> None:
    small = JPEG[:3] + b"\0" * (1024 - 3)
    assert check_image_bytes(small) == small
    with pytest.raises(FaceValidationError, match="1 KB"):
        check_image_bytes(small[:-1])
    with pytest.raises(FaceValidationError, match="6 MB"):
        check_image_bytes(JPEG[:3] + b"\0" * MAX_IMAGE_BYTES)


async def test_an_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    path.write_bytes(JPEG[:3] + b"\0" * (MAX_IMAGE_BYTES + 10))
    with pytest.raises(FaceValidationError, match="6 MB"):
        await load_image(path)


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"GIF89a", "gif"),
        (b"GIF87a", "gif"),
        (b"BM", "bmp"),
        (b"RIFF", None),
    ],
)
def test_format_by_magic_bytes(head: bytes, fmt: str | None) -> None:
    assert image_format(head + b"\0" * 2000) == fmt
    if fmt is None:
        with pytest.raises(FaceValidationError, match="JPEG, PNG, GIF or BMP"):
            check_image_bytes(head + b"\0" * 2000)


def test_emulator_png_is_accepted() -> None:
    png = make_face_image("bob", fmt="png")
    assert check_image_bytes(png) == png
