"""Image inputs: bytes, a path, a binary file object or an http(s) URL, checked before sending.

``load_image()`` turns what the user passed into an ``ImageInput``: either the bytes to send as
``application/octet-stream`` (the "FromStream" operation variants) or a URL to send as
``{"url": ...}`` (the "FromUrl" variants). Files are read in a worker thread so the event loop
never blocks on disk. Bytes are checked against the documented limits: 1 KB to 6 MB, and JPEG,
PNG, GIF or BMP (by their magic bytes).
"""

from __future__ import annotations

import asyncio
import io
import os
from typing import Protocol, TypeAlias, runtime_checkable
from urllib.parse import urlsplit

import attrs

from face_async._errors import FaceValidationError

__all__ = [
    "MAX_IMAGE_BYTES",
    "MIN_IMAGE_BYTES",
    "STR_IMAGE_RULE",
    "BinaryReader",
    "ImageInput",
    "ImageSource",
    "check_image_bytes",
    "image_format",
    "is_url",
    "load_image",
    "read_path",
    "str_image_error",
]

MIN_IMAGE_BYTES = 1024
MAX_IMAGE_BYTES = 6 * 1024 * 1024

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)
_MAGIC_PREFIXES = tuple(magic for magic, _ in _MAGIC)


@runtime_checkable
class BinaryReader(Protocol):
    """A binary file object: anything with ``read(size) -> bytes``."""

    def read(self, size: int = -1, /) -> bytes: ...


ImageSource: TypeAlias = bytes | bytearray | memoryview | os.PathLike[str] | BinaryReader | str


@attrs.frozen
class ImageInput:
    """An image ready to send: exactly one of ``data`` (stream variant) or ``url`` (URL variant)."""

    data: bytes | None = None
    url: str | None = None


def image_format(data: bytes) -> str | None:
    """'jpeg', 'png', 'gif' or 'bmp' from the magic bytes; None when unrecognized."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def check_image_bytes(data: bytes, parameter: str = "image") -> bytes:
    """Return ``data`` if it is a 1 KB-6 MB JPEG/PNG/GIF/BMP image, else FaceValidationError.

    Only the size and the magic bytes are checked: the image itself is the service's to decode.
    """
    size = len(data)
    if size < MIN_IMAGE_BYTES:
        raise FaceValidationError(
            f"{parameter}: image is {size} bytes; the minimum is 1 KB ({MIN_IMAGE_BYTES})",
            parameter=parameter,
        )
    if size > MAX_IMAGE_BYTES:
        raise FaceValidationError(
            f"{parameter}: image is larger than the 6 MB limit ({MAX_IMAGE_BYTES} bytes)",
            parameter=parameter,
        )
    if not data.startswith(_MAGIC_PREFIXES):
        raise FaceValidationError(
            f"{parameter}: not a JPEG, PNG, GIF or BMP image", parameter=parameter
        )
    return data


STR_IMAGE_RULE = "a str image must be an http:// or https:// URL; pass a pathlib.Path for a file"


def is_url(value: str) -> bool:
    """Whether a str image is a URL: it starts with http:// or https:// (any case) and names
    a host.

    The one rule for ``str`` images everywhere (client methods and enrollment sources): any
    other str is refused with :func:`str_image_error`, never guessed to be a path.
    """
    return value[:8].lower().startswith(("http://", "https://")) and bool(urlsplit(value).netloc)


def str_image_error(parameter: str = "image") -> FaceValidationError:
    """The error for a str image that is not an http(s) URL (one message everywhere)."""
    return FaceValidationError(f"{parameter}: {STR_IMAGE_RULE}", parameter=parameter)


def read_path(path: os.PathLike[str]) -> bytes:
    """The bytes of the file at ``path``, at most one byte past the 6 MB limit (blocking)."""
    with open(path, "rb") as file:
        # One byte past the limit is enough to refuse a huge file without loading it all; size
        # the read to the file, as read(n) allocates n bytes before trimming.
        size = os.fstat(file.fileno()).st_size
        return file.read(min(size, MAX_IMAGE_BYTES) + 1)


def _read_file(file: BinaryReader) -> bytes:
    return file.read(MAX_IMAGE_BYTES + 1)


def _is_real_file(file: object) -> bool:
    fileno = getattr(file, "fileno", None)
    if fileno is None:
        return False
    try:
        fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return True


async def load_image(image: object, parameter: str = "image") -> ImageInput:
    """Turn an image argument into an ``ImageInput``, reading files off the event loop.

    Accepts bytes/bytearray/memoryview, an ``os.PathLike`` (e.g. ``pathlib.Path``), a binary file
    object (read from its current position), or a str holding an http(s) URL. Raises
    ``FaceValidationError`` for anything else, for a str that is not a URL (pass a Path for a
    local file), and for bytes outside 1 KB-6 MB or not JPEG/PNG/GIF/BMP. ``OSError`` from
    reading a file propagates.
    """
    if image.__class__ is bytes:  # the common case first: nothing to read or copy
        return ImageInput(data=check_image_bytes(image, parameter))
    if isinstance(image, str):
        if not is_url(image):
            raise str_image_error(parameter)
        return ImageInput(url=image)
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    elif isinstance(image, os.PathLike):
        data = await asyncio.to_thread(read_path, image)
    elif isinstance(image, BinaryReader):
        if _is_real_file(image):
            data = await asyncio.to_thread(_read_file, image)
        else:
            data = image.read(MAX_IMAGE_BYTES + 1)
        if not isinstance(data, bytes | bytearray):
            raise FaceValidationError(
                f"{parameter}: the file object returned {type(data).__name__}, not bytes; "
                "open the file in binary mode ('rb')",
                parameter=parameter,
            )
        data = bytes(data)
    else:
        raise FaceValidationError(
            f"{parameter}: expected bytes, a path, a binary file object or an http(s) URL, "
            f"got {type(image).__name__}",
            parameter=parameter,
        )
    return ImageInput(data=check_image_bytes(data, parameter))
