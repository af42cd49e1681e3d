"""Images for the emulator: write photos that carry identities, read faces back from bytes.

The emulator has no face model. :func:`make_face_image` writes a small but valid JPEG or PNG
whose metadata (a JPEG COM segment, a PNG ``tEXt`` chunk) names the people in it;
:func:`parse_image` reads that metadata back without decoding pixels. Any other valid JPEG, PNG,
GIF or BMP is one face whose identity is derived from a hash of its bytes, so the same photo is
the same person and two different photos are two people.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from collections.abc import Sequence
from typing import Literal

import attrs

__all__ = [
    "FaceRect",
    "ImageFace",
    "NotAnImage",
    "ParsedImage",
    "face_rectangles",
    "make_face_image",
    "parse_image",
]

_TAG = b"face-emulator/1 "
_PNG_KEYWORD = b"face-emulator"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Metadata is written in the first bytes; bounding the scan keeps parsing cheap on big photos.
_SCAN_LIMIT = 4096


class NotAnImage(ValueError):
    """The bytes are not a JPEG, PNG, GIF or BMP image."""


@attrs.frozen
class FaceRect:
    """A face rectangle in pixels, as the service returns it."""

    left: int
    top: int
    width: int
    height: int

    def as_json(self) -> dict[str, int]:
        return {"top": self.top, "left": self.left, "width": self.width, "height": self.height}

    def intersects(self, other: FaceRect) -> bool:
        return (
            self.left < other.left + other.width
            and other.left < self.left + self.width
            and self.top < other.top + other.height
            and other.top < self.top + self.height
        )

    def contains_center_of(self, other: FaceRect) -> bool:
        cx = other.left + other.width / 2
        cy = other.top + other.height / 2
        return (
            self.left <= cx <= self.left + self.width and self.top <= cy <= self.top + self.height
        )


@attrs.frozen
class ImageFace:
    """One face found in an image: who it is and where."""

    identity: str
    rect: FaceRect


@attrs.frozen
class ParsedImage:
    """What the emulator knows about an uploaded image."""

    format: Literal["jpeg", "png", "gif", "bmp"]
    width: int
    height: int
    faces: tuple[ImageFace, ...]
    fingerprint: str  # blake2b of the bytes: the same photo stored twice is a duplicate


def _side_for(faces: int) -> int:
    return max(256, math.ceil(math.sqrt(max(faces, 1))) * 96)


def face_rectangles(width: int, height: int, count: int) -> list[FaceRect]:
    """Lay out ``count`` non-overlapping face rectangles in a grid, largest first."""
    if count <= 0:
        return []
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    cell_w, cell_h = width // cols, height // rows
    base = max(1, int(min(cell_w, cell_h) * 0.7))
    rects = []
    for i in range(count):
        side = max(1, base - i * max(1, base // (4 * count)))
        row, col = divmod(i, cols)
        left = col * cell_w + (cell_w - side) // 2
        top = row * cell_h + (cell_h - side) // 2
        rects.append(FaceRect(left=left, top=top, width=side, height=side))
    return rects


def _metadata(identities: Sequence[str], width: int, height: int, variant: int) -> bytes:
    doc = {"faces": len(identities), "ids": list(identities), "variant": variant}
    doc["size"] = [width, height]
    return _TAG + json.dumps(doc, separators=(",", ":")).encode("ascii")


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _jpeg(width: int, height: int, meta: bytes, min_bytes: int) -> bytes:
    # Baseline, one grey component, every 8x8 block flat: with one-symbol Huffman tables
    # (DC category 0, AC end-of-block, both coded as the single bit "0") a block is 2 bits.
    blocks = math.ceil(width / 8) * math.ceil(height / 8)
    nbits = blocks * 2
    scan = bytes(nbits // 8) + (bytes([0xFF >> (nbits % 8)]) if nbits % 8 else b"")
    head = b"\xff\xd8" + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    head += _segment(0xFE, meta)
    body = _segment(0xDB, b"\x00" + bytes([1] * 64))
    body += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    one_symbol = bytes([1]) + bytes(15) + b"\x00"
    body += _segment(0xC4, b"\x00" + one_symbol) + _segment(0xC4, b"\x10" + one_symbol)
    body += _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + scan + b"\xff\xd9"
    padding = []
    missing = min_bytes - len(head) - len(body)
    while missing > 0:
        chunk = min(max(missing - 4, 1), 65533)
        padding.append(_segment(0xFE, b" " * chunk))
        missing -= chunk + 4
    return b"".join([head, *padding, body])


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png(width: int, height: int, meta: bytes, min_bytes: int) -> bytes:
    head = _PNG_SIGNATURE + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    )
    head += _png_chunk(b"tEXt", _PNG_KEYWORD + b"\x00" + meta)
    rows = (b"\x00" + bytes([128]) * width) * height
    tail = _png_chunk(b"IDAT", zlib.compress(rows, 9)) + _png_chunk(b"IEND", b"")
    missing = min_bytes - len(head) - len(tail)
    if missing > 0:
        filler = b"padding\x00" + b" " * max(0, missing - 20)
        head += _png_chunk(b"tEXt", filler)
    return head + tail


def make_face_image(
    identity: str,
    *,
    faces: int = 1,
    fmt: Literal["jpeg", "png"] = "jpeg",
    identities: Sequence[str] | None = None,
    variant: int = 0,
    min_bytes: int = 1024,
) -> bytes:
    """Write a valid JPEG or PNG photo of ``faces`` faces that the emulator recognises.

    The first face is ``identity``; further faces are ``identity#2``, ``identity#3``, ... unless
    ``identities`` names every face (then ``faces`` is ignored). ``faces=0`` is a photo with no
    face. Different ``variant`` values give different bytes (different photos) of the same
    people. The file is padded to at least ``min_bytes`` (the service refuses files under 1 KB).
    Raises ValueError for a negative face count or an unknown format.
    """
    if identities is None:
        if faces < 0:
            raise ValueError("faces must be >= 0")
        identities = [identity] + [f"{identity}#{i}" for i in range(2, faces + 1)]
        identities = identities[:faces]
    side = _side_for(len(identities))
    meta = _metadata(identities, side, side, variant)
    if fmt == "jpeg":
        return _jpeg(side, side, meta, min_bytes)
    if fmt == "png":
        return _png(side, side, meta, min_bytes)
    raise ValueError(f"unknown image format {fmt!r}")


def _format_of(data: bytes) -> Literal["jpeg", "png", "gif", "bmp"]:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == _PNG_SIGNATURE:
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:2] == b"BM" and len(data) >= 26:
        return "bmp"
    raise NotAnImage("Decoding error, image format unsupported.")


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    end = len(data)
    while pos + 9 < end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", data, pos + 5)
            return width, height
        if marker == 0xDA:
            return None
        pos += 2 + length
    return None


def _size_of(fmt: str, data: bytes) -> tuple[int, int]:
    size: tuple[int, int] | None = None
    if fmt == "png" and len(data) >= 24:
        size = struct.unpack_from(">II", data, 16)
    elif fmt == "gif" and len(data) >= 10:
        size = struct.unpack_from("<HH", data, 6)
    elif fmt == "bmp":
        width, height = struct.unpack_from("<ii", data, 18)
        size = (abs(width), abs(height))
    elif fmt == "jpeg":
        size = _jpeg_size(data)
    if size is None or size[0] <= 0 or size[1] <= 0:
        return 640, 480
    return size


def _read_metadata(fmt: str, data: bytes) -> dict[str, object] | None:
    at = data.find(_TAG, 0, _SCAN_LIMIT)
    if at < 0:
        return None
    if fmt == "jpeg" and data[at - 4 : at - 2] == b"\xff\xfe":
        (length,) = struct.unpack_from(">H", data, at - 2)
        raw = data[at + len(_TAG) : at - 2 + length]
    elif fmt == "png" and data[at - len(_PNG_KEYWORD) - 5 : at - len(_PNG_KEYWORD) - 1] == b"tEXt":
        start = at - len(_PNG_KEYWORD) - 1
        (length,) = struct.unpack_from(">I", data, start - 8)
        raw = data[at + len(_TAG) : start + length]
    else:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def parse_image(data: bytes) -> ParsedImage:
    """Identify the format by magic bytes and read the faces; raises NotAnImage otherwise."""
    fmt = _format_of(data)
    fingerprint = hashlib.blake2b(data, digest_size=16).hexdigest()
    width, height = _size_of(fmt, data)
    meta = _read_metadata(fmt, data)
    ids = meta.get("ids") if meta is not None else None
    if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
        identities: list[str] = ids
    else:
        identities = [f"photo:{fingerprint}"]
    rects = face_rectangles(width, height, len(identities))
    faces = tuple(ImageFace(identity=i, rect=r) for i, r in zip(identities, rects, strict=True))
    return ParsedImage(fmt, width, height, faces, fingerprint)
