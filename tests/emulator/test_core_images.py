"""make_face_image writes decodable images; parse_image reads faces back from bytes."""

from __future__ import annotations

import struct
import zlib

import pytest

from face_async.emulator import make_face_image
from face_async.emulator._images import NotAnImage, face_rectangles, parse_image


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF, kind
        chunks.append((kind, payload))
        pos += 12 + length
    assert pos == len(data)
    return chunks


def _decode_png_size(data: bytes) -> tuple[int, int, bytes]:
    chunks = _png_chunks(data)
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1][0] == b"IEND"
    width, height, depth, color = struct.unpack_from(">IIBB", chunks[0][1])
    assert (depth, color) == (8, 0)
    pixels = zlib.decompress(b"".join(p for k, p in chunks if k == b"IDAT"))
    return width, height, pixels


def _jpeg_segments(data: bytes) -> tuple[dict[int, list[bytes]], bytes]:
    """Walk the markers of a baseline JPEG; return segments by marker and the scan data."""
    assert data[:2] == b"\xff\xd8"
    assert data[-2:] == b"\xff\xd9"
    pos = 2
    segments: dict[int, list[bytes]] = {}
    max_segments = 64  # the emulator's baseline JPEGs have well under a dozen segments
    for _ in range(max_segments):
        assert pos + 4 <= len(data), f"JPEG ended at byte {pos} before the start-of-scan marker"
        assert data[pos] == 0xFF, f"no marker at byte {pos}"
        marker = data[pos + 1]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        segments.setdefault(marker, []).append(data[pos + 4 : pos + 2 + length])
        pos += 2 + length
        if marker == 0xDA:
            return segments, data[pos:-2]
    raise AssertionError(f"no start-of-scan marker within {max_segments} JPEG segments")


def _decode_jpeg_blocks(data: bytes) -> int:
    """Huffman-decode the scan with the image's own one-symbol tables; count the 8x8 blocks."""
    segments, scan = _jpeg_segments(data)
    (sof,) = segments[0xC0]
    precision, height, width, components = struct.unpack_from(">BHHB", sof)
    assert (precision, components) == (8, 1)
    tables = {}
    for dht in segments[0xC4]:
        counts = dht[1:17]
        symbols = dht[17 : 17 + sum(counts)]
        assert counts[0] == 1
        assert sum(counts) == 1
        tables[dht[0]] = symbols[0]
    assert tables == {0x00: 0x00, 0x10: 0x00}  # DC category 0, AC end-of-block
    assert b"\xff" not in scan.replace(b"\xff\x00", b"")
    bits = "".join(f"{byte:08b}" for byte in scan)
    blocks = -(-width // 8) * -(-height // 8)
    assert bits[: 2 * blocks] == "0" * (2 * blocks)
    assert set(bits[2 * blocks :]) <= {"1"}
    assert len(bits) - 2 * blocks < 8
    return int(blocks)


@pytest.mark.parametrize("faces", [0, 1, 2, 5])
def test_jpeg_is_a_decodable_baseline_jpeg(faces: int) -> None:
    data = make_face_image("alice", faces=faces)
    assert len(data) >= 1024
    assert _decode_jpeg_blocks(data) > 0
    parsed = parse_image(data)
    assert parsed.format == "jpeg"
    assert [f.identity for f in parsed.faces] == ["alice", "alice#2", "alice#3", "alice#4",
                                                 "alice#5"][:faces]  # fmt: skip


@pytest.mark.parametrize("faces", [0, 1, 3])
def test_png_is_a_decodable_png(faces: int) -> None:
    data = make_face_image("bob", faces=faces, fmt="png")
    assert len(data) >= 1024
    width, height, pixels = _decode_png_size(data)
    assert len(pixels) == height * (width + 1)
    parsed = parse_image(data)
    assert (parsed.format, parsed.width, parsed.height) == ("png", width, height)
    assert len(parsed.faces) == faces


def test_padding_and_small_images() -> None:
    small = make_face_image("a", min_bytes=0)
    assert len(small) < 1024
    big = make_face_image("a", min_bytes=200_000)
    assert len(big) >= 200_000
    assert _decode_jpeg_blocks(big) == _decode_jpeg_blocks(small)
    assert parse_image(big).faces[0].identity == "a"
    assert len(make_face_image("a", fmt="png", min_bytes=50_000)) >= 50_000


def test_any_identity_text_round_trips() -> None:
    for fmt in ("jpeg", "png"):
        data = make_face_image('José 🙂 "quoted"', fmt=fmt)
        assert parse_image(data).faces[0].identity == 'José 🙂 "quoted"'


def test_named_identities_and_variants() -> None:
    data = make_face_image("x", identities=["ann", "ben", "cy"])
    assert [f.identity for f in parse_image(data).faces] == ["ann", "ben", "cy"]
    one, two = make_face_image("ann"), make_face_image("ann", variant=1)
    assert one != two
    assert parse_image(one).fingerprint != parse_image(two).fingerprint
    assert parse_image(one).faces[0].identity == parse_image(two).faces[0].identity
    assert parse_image(one).fingerprint == parse_image(make_face_image("ann")).fingerprint


def test_rectangles_are_largest_first_and_disjoint() -> None:
    rects = face_rectangles(384, 384, 9)
    areas = [r.width * r.height for r in rects]
    assert areas == sorted(areas, reverse=True)
    assert len(set(areas)) == 9
    for i, a in enumerate(rects):
        assert a.left >= 0
        assert a.top >= 0
        assert a.left + a.width <= 384
        assert a.top + a.height <= 384
        for b in rects[i + 1 :]:
            assert not a.intersects(b)


def _gif(seed: int) -> bytes:
    header = b"GIF89a" + struct.pack("<HHBBB", 300, 200, 0, 0, 0)
    return header + bytes([seed]) * 2000 + b"\x3b"


def _bmp(width: int, height: int) -> bytes:
    pixels = bytes(width * height * 3)
    header = b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 0, 0, 0, 0)
    return header + info + pixels


def test_other_images_are_one_face_identified_by_their_bytes() -> None:
    first, again, other = parse_image(_gif(1)), parse_image(_gif(1)), parse_image(_gif(2))
    assert first.format == "gif"
    assert (first.width, first.height) == (300, 200)
    assert len(first.faces) == 1
    assert first.faces[0].identity == again.faces[0].identity
    assert first.faces[0].identity != other.faces[0].identity
    bmp = parse_image(_bmp(40, 30))
    assert (bmp.format, bmp.width, bmp.height, len(bmp.faces)) == ("bmp", 40, 30, 1)


def test_plain_jpeg_without_metadata_is_one_face() -> None:
    data = make_face_image("zed", min_bytes=0)
    stripped = data.replace(b"face-emulator/1 ", b"something-else  ")
    parsed = parse_image(stripped)
    assert len(parsed.faces) == 1
    assert parsed.faces[0].identity.startswith("photo:")
    assert (parsed.width, parsed.height) == (256, 256)


@pytest.mark.parametrize("data", [b"", b"hello world" * 200, b"\xff\xd8" + bytes(2000)])
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        parse_image(data)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="faces"):
        make_face_image("a", faces=-1)
    with pytest.raises(ValueError, match="format"):
        make_face_image("a", fmt="gif")  # type: ignore[arg-type]
