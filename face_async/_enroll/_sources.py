"""What :func:`face_async.enroll` enrolls: sources, images, fingerprints, failure reasons.

An image is bytes, a path (``os.PathLike``) or an http(s) URL (a str starting with ``http://``
or ``https://``); any other str is refused with FaceValidationError (pass a ``pathlib.Path``
for a file), the rule of the whole library. It is read only when it is sent. Its fingerprint
(blake2b-128 of the bytes, or of ``b"url:" + url``) goes into the face's userData.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import TypeAlias

from face_async._errors import (
    APIError,
    FaceValidationError,
    InvalidImage,
    InvalidImageSize,
    InvalidURL,
)
from face_async._images import check_image_bytes, image_format, read_path

__all__ = ["IMAGE_SUFFIXES", "EnrollSource", "ImageRef", "fingerprint", "shard_of"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp"})
USER_DATA_PREFIX = "face-async:v1:"
PERSON_PREFIX = USER_DATA_PREFIX + "person:"

# Failure reasons (FaceFailure.reason / FaceFailed.reason).
INVALID_IMAGE = "invalid_image"  # not a decodable JPEG/PNG/GIF/BMP
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
IMAGE_SIZE = "image_size"  # file under 1 KB or over 6 MB, or face too small/too big
FACE_LIMIT = "face_limit"  # the person already holds 248 faces
UNREADABLE = "unreadable"  # the file could not be read
INVALID_URL = "invalid_url"
INVALID_PERSON = "invalid_person"  # the person name was refused (e.g. over 128 characters)
# The face may have been added (ambiguous failures kept repeating, or the service could not be
# read to check, also after the run's final verification and one more send): kept in doubt in
# the journal; a rerun settles it.
OUTCOME_UNKNOWN = "outcome_unknown"
ERROR = "error"  # another service or transport error; a rerun retries
# Reasons recorded in the journal: the image is not sent again on a rerun.
PERMANENT = frozenset({INVALID_IMAGE, NO_FACE, MULTIPLE_FACES, IMAGE_SIZE, INVALID_URL})

ImageRef: TypeAlias = "bytes | os.PathLike[str] | str"
EnrollSource: TypeAlias = (
    "Mapping[str, ImageRef | Iterable[ImageRef]] | Iterable[tuple[str, ImageRef]]"
    " | AsyncIterable[tuple[str, ImageRef]] | str | os.PathLike[str]"
)


def fingerprint(data: bytes) -> str:
    """The 32-hex-digit blake2b fingerprint of an image's bytes (or of ``b"url:" + url``)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def shard_of(name: str, shards: int) -> int:
    """The shard (0 to ``shards - 1``) of a person name: blake2b of its UTF-8 bytes, modulo
    ``shards``; the same on every machine and Python version (unlike ``hash``)."""
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def check_shard(shard: object) -> tuple[int, int]:
    """``shard`` as (index, count); raises FaceValidationError unless 0 <= index < count."""
    if (
        isinstance(shard, tuple)
        and len(shard) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
        and shard[1] >= 1
        and 0 <= shard[0] < shard[1]
    ):
        return shard[0], shard[1]
    raise FaceValidationError(
        f"shard must be (index, count) with 0 <= index < count, got {shard!r}", parameter="shard"
    )


class ReadImage(os.PathLike[str]):
    """An image read once for several targets (fan-out): its payload, fingerprint and label."""

    __slots__ = ("fp", "label", "payload")

    def __init__(self, payload: bytes, fp: str, label: str | None) -> None:
        self.payload = payload
        self.fp = fp
        self.label = label  # the file's path; None for bytes given in memory

    def __fspath__(self) -> str:
        return self.label or "<bytes>"

    def __repr__(self) -> str:
        return f"ReadImage({self.label!r}, {len(self.payload)} bytes)"


def face_user_data(fp: str) -> str:
    """The userData of a face we add: our prefix and its fingerprint."""
    return USER_DATA_PREFIX + fp


def fingerprint_of(user_data: str | None) -> str | None:
    """The fingerprint in a face's userData, or None when the face is not ours."""
    if user_data is None or not user_data.startswith(USER_DATA_PREFIX):
        return None
    rest = user_data[len(USER_DATA_PREFIX) :]
    return None if rest.startswith("person:") else rest


class Abort(Exception):
    """An image failed (internal to enroll); carries the reason. ``unchecked``: an
    ``outcome_unknown`` whose check could not read the service."""

    def __init__(self, reason: str, detail: str, *, unchecked: bool = False) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.unchecked = unchecked


def source_label(person: str, image: ImageRef, index: int) -> str:
    if isinstance(image, ReadImage) and image.label is None:
        return f"{person}[{index}]"
    if isinstance(image, bytes | bytearray | memoryview):
        return f"{person}[{index}]"
    return os.fspath(image)


def check_image_ref(image: object) -> ImageRef:
    """``image`` if it is an image reference; raises FaceValidationError otherwise (a str
    that is not an http(s) URL, or another type)."""
    if isinstance(image, str):
        if not image.startswith(("http://", "https://")):
            raise FaceValidationError(
                f"source: the str {image[:80]!r} is not an http(s) URL; pass a pathlib.Path "
                "for a file",
                parameter="source",
            )
        return image
    if isinstance(image, bytes | os.PathLike):
        return image
    if isinstance(image, bytearray | memoryview):
        return bytes(image)
    raise FaceValidationError(
        f"source: an image is bytes, a pathlib.Path or an http(s) URL, not {type(image).__name__}",
        parameter="source",
    )


def image_list(images: object) -> list[ImageRef]:
    if isinstance(images, bytes | bytearray | memoryview | str | os.PathLike):
        return [check_image_ref(images)]  # one image rather than a sequence of them
    if not isinstance(images, Iterable):
        raise FaceValidationError(
            "source: a mapping's values must be images or iterables of images", parameter="source"
        )
    return [check_image_ref(image) for image in images]


class _File(os.PathLike[str]):
    """A file of a folder source: a path in a few dozen bytes (a Path object takes more)."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"_File({self.path!r})"


def _list_images(folder: Path) -> list[Path]:
    images = (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(p for p in images if p.is_file())


def plan_folder(root: Path) -> list[tuple[str, list[ImageRef]]]:
    if not root.is_dir():
        raise FaceValidationError(
            f"source: {os.fspath(root)!r} is not a directory", parameter="source"
        )
    plan: list[tuple[str, list[ImageRef]]] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            images: list[ImageRef] = [_File(os.fspath(p)) for p in _list_images(entry)]
            if images:
                plan.append((entry.name, images))
    return plan


# Bytes hashed on the event loop; larger ones in a worker thread (hashlib lets go of the GIL):
# a 4 MB photo takes ~5 ms to hash, a stall for every other coroutine of the program.
_HASH_ON_LOOP = 64 * 1024


def _read_and_fingerprint(path: os.PathLike[str]) -> tuple[bytes, str]:
    data = read_path(path)
    return data, fingerprint(data)


async def load(image: ImageRef) -> tuple[bytes | str, str]:
    """What to send (bytes or URL) and its fingerprint; raises OSError.

    A str is a URL (checked by :func:`check_image_ref`); files are read and hashed in a worker
    thread, and so are large bytes.
    """
    if isinstance(image, str):
        return image, fingerprint(b"url:" + image.encode())
    if isinstance(image, ReadImage):
        return image.payload, image.fp
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
        if len(data) <= _HASH_ON_LOOP:
            return data, fingerprint(data)
        return data, await asyncio.to_thread(fingerprint, data)
    return await asyncio.to_thread(_read_and_fingerprint, image)


def check_bytes(data: bytes) -> None:
    """The image rules of :func:`face_async._images.check_image_bytes`, as an ``Abort``."""
    try:
        check_image_bytes(data)
    except FaceValidationError as exc:
        # Bytes with a known format can only have failed on their size.
        reason = INVALID_IMAGE if image_format(data) is None else IMAGE_SIZE
        raise Abort(reason, str(exc)) from None


def reason_of(exc: APIError) -> str:
    if isinstance(exc, InvalidImageSize):
        return IMAGE_SIZE
    if isinstance(exc, InvalidURL):
        return INVALID_URL
    if isinstance(exc, InvalidImage):
        text = exc.message.lower()
        if "no face" in text:
            return NO_FACE
        if "more than 1 face" in text or "multiple faces" in text:
            return MULTIPLE_FACES
        if "size" in text or "too small" in text or "too large" in text:
            return IMAGE_SIZE
        return INVALID_IMAGE
    return ERROR


async def source_pairs(
    source: Iterable[tuple[str, ImageRef]] | AsyncIterable[tuple[str, ImageRef]],
) -> AsyncIterator[tuple[str, ImageRef]]:
    """The (person, image) pairs of an (async) iterable, each image checked."""
    if isinstance(source, AsyncIterable):
        async for name, image in source:
            yield str(name), check_image_ref(image)
    else:
        for name, image in source:
            yield str(name), check_image_ref(image)
