"""A corpus of awkward image files, each with the outcome pixseek must give it.

Shared by the odd-file tests and the reliability tests. `expected` is "indexed" or the skip
reason the indexer must report.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin



def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, depth: int, colour: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def huge_png_header(width: int, height: int) -> bytes:
    """A small PNG whose header claims enormous dimensions (a decompression bomb's calling card)."""
    return _png(width, height, 8, 2, zlib.compress(b"\x00" * 64))


def decompression_bomb_png(side: int = 16_000) -> bytes:
    """A 250 KB greyscale PNG that really decodes to side x side pixels (256 MP by default:
    over the 200 MP limit, and under twice it, where Pillow itself only warns)."""
    rows = (b"\x00" * (side + 1)) * 1000
    packer = zlib.compressobj(1)
    idat = b"".join(packer.compress(rows) for _ in range(side // 1000)) + packer.flush()
    return _png(side, side, 8, 0, idat)


def sixteen_bit_rgb_png() -> bytes:
    """48 bits a pixel (Pillow cannot write these): a red ramp left to right."""
    ramp = np.linspace(0, 65535, 64).astype(">u2")
    pixel_rows = np.zeros((32, 64, 3), ">u2")
    pixel_rows[:, :, 0] = ramp
    raw = b"".join(b"\x00" + row.tobytes() for row in pixel_rows)
    return _png(64, 32, 16, 2, zlib.compress(raw))


def bad_exif_jpeg() -> bytes:
    """A JPEG whose EXIF gives a tag the wrong type (FreeOffsets as text), next to a valid
    orientation 6: the file is fine to index, upright."""
    entries = [(0x0120, 2, 4, b"cam\x00"), (0x0112, 3, 1, struct.pack(">HH", 6, 0))]
    ifd = struct.pack(">H", len(entries)) + b"".join(struct.pack(">HHI", t, k, n) + v for t, k, n, v in entries)
    exif = b"Exif\x00\x00MM\x00*" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0)
    return _encode(Image.fromarray(exif_rotated_pixels()), "JPEG", exif=exif)


def exif_rotated_pixels() -> np.ndarray:
    """120x60: left half red, right half blue."""
    pixels = np.zeros((60, 120, 3), np.uint8)
    pixels[:, :60] = (255, 0, 0)
    pixels[:, 60:] = (0, 0, 255)
    return pixels


def exif_rotated_jpeg(orientation: int) -> bytes:
    """A 120x60 JPEG (left half red, right half blue) with an EXIF orientation tag."""
    image = Image.fromarray(exif_rotated_pixels())
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    return buffer.getvalue()


def sixteen_bit_png() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (64, 1))
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, "PNG")
    return buffer.getvalue()


def palette_alpha_png() -> bytes:
    image = Image.new("P", (64, 64), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (0, 0, 32, 64))  # left half opaque green, right half transparent
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=0)
    return buffer.getvalue()


def cmyk_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("CMYK", (80, 60), (0, 255, 255, 0)).save(buffer, "JPEG")
    return buffer.getvalue()


def png_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    make_photo_image(seed).save(buffer, "PNG")
    return buffer.getvalue()


def make_photo_image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8))


def jpeg_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    make_photo_image(seed).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def write_odd_corpus(root: Path) -> dict[str, str]:
    """Write the corpus under `root`; returns {relative path: expected outcome}."""
    good_jpeg = jpeg_bytes(1)
    files: dict[str, tuple[bytes, str]] = {
        "empty.jpg": (b"", "empty file"),
        "truncated.jpg": (good_jpeg[: len(good_jpeg) // 2], "truncated"),
        "text named.jpg": (b"this is not an image, just text\n" * 20, "not an image"),
        "png named.jpg": (png_bytes(2), "indexed"),
        "jpeg named.png": (jpeg_bytes(3), "indexed"),
        "cmyk.jpg": (cmyk_jpeg(), "indexed"),
        "rotated 6.jpg": (exif_rotated_jpeg(6), "indexed"),
        "rotated 3.jpg": (exif_rotated_jpeg(3), "indexed"),
        "sixteen bit.png": (sixteen_bit_png(), "indexed"),
        "palette alpha.png": (palette_alpha_png(), "indexed"),
        "animated.gif": (animated_gif(), "indexed"),
        "huge dimensions.png": (huge_png_header(30000, 30000), "too large"),
        "tiny 1x1.png": (_encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), "indexed"),
        "UPPER CASE.JPG": (jpeg_bytes(4), "indexed"),
        "ünïcödé 写真 🌅.jpeg": (jpeg_bytes(5), "indexed"),
        "  spaces  and 'quotes\".jpg": (jpeg_bytes(6), "indexed"),
        "<script>alert(1)</script>.jpg": (jpeg_bytes(7), "indexed"),
        "semi;colon $(rm -rf) `x`.png": (png_bytes(8), "indexed"),
        "garbage.webp": (os.urandom(2048), "not an image"),
        "webp photo.webp": (_encode(make_photo_image(9), "WEBP"), "indexed"),
        "bitmap.bmp": (_encode(make_photo_image(10), "BMP"), "indexed"),
        "scan.tiff": (_encode(make_photo_image(11), "TIFF"), "indexed"),
        "grey.jpg": (_encode(make_photo_image(12).convert("L"), "JPEG"), "indexed"),
        "a/b/c/d/e/f/g/h/deep.jpg": (jpeg_bytes(13), "indexed"),
        "zeros.png": (b"\x00" * 4096, "not an image"),
        "header only.png": (png_bytes(14)[:100], "truncated"),
        "signature only.png": (png_bytes(14)[:20], "truncated"),
        "rgba.png": (_encode(make_photo_image(15).convert("RGBA"), "PNG"), "indexed"),
        "la.png": (_encode(make_photo_image(16).convert("LA"), "PNG"), "indexed"),
        "folder.jpg/inside.png": (png_bytes(41), "indexed"),  # a folder named like a photo is a folder
        **hostile_files(),
    }
    expected = {}
    for name, (data, outcome) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected[name] = outcome
    raw_name = os.fsencode(str(root)) + b"/caf\xe9 latin-1 name.jpg"
    with open(raw_name, "wb") as handle:
        handle.write(jpeg_bytes(17))
    expected[os.fsdecode(b"caf\xe9 latin-1 name.jpg")] = "indexed"
    os.symlink(root, root / "a" / "loop")  # a symlink loop back to the top
    os.symlink(root / "does-not-exist.jpg", root / "dangling.jpg")
    expected["dangling.jpg"] = "broken link"
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.jpg").write_bytes(jpeg_bytes(18))
    (root / "._appledouble.jpg").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 60)
    (root / "notes.txt").write_text("not an image extension")
    os.mkfifo(root / "fifo.jpg")  # opened, it would block the run
    expected["fifo.jpg"] = "not a regular file: a pipe (FIFO)"
    return expected


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _multi_frame(fmt: str) -> bytes:
    first, *rest = [make_photo_image(20 + i).resize((40, 30)) for i in range(3)]
    return _encode(first, fmt, save_all=True, append_images=rest)


def hostile_files() -> dict[str, tuple[bytes, str]]:
    """Kinds added for the reliability work (issue 7): real bombs, odd encodings, formats we
    do not parse hiding behind an image extension."""
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    text_bomb = PngImagePlugin.PngInfo()
    text_bomb.add_text("comment", "A" * 20_000_000, zip=True)
    return {
        "bomb 256 MP.png": (decompression_bomb_png(), "too large"),
        "elongated 60000x1.png": (_encode(Image.new("RGB", (60000, 1)), "PNG"), "indexed"),  # its middle
        "huge claimed.jpg": (_jpeg_claiming(60000, 60000), "too large"),
        "bad exif.jpg": (bad_exif_jpeg(), "indexed"),
        "progressive.jpg": (_encode(make_photo_image(21), "JPEG", progressive=True), "indexed"),
        "sixteen bit rgb.png": (sixteen_bit_rgb_png(), "indexed"),
        "multi picture.jpg": (_multi_frame("MPO"), "indexed"),
        "multi page.tiff": (_multi_frame("TIFF"), "indexed"),
        "animated.webp": (_multi_frame("WEBP"), "indexed"),
        "one bit.png": (_encode(make_photo_image(22).convert("1"), "PNG"), "indexed"),
        "float.tiff": (_encode(make_photo_image(23).convert("F"), "TIFF"), "indexed"),
        "cmyk.tiff": (_encode(make_photo_image(24).convert("CMYK"), "TIFF"), "indexed"),
        "trailing garbage.jpg": (jpeg_bytes(25) + os.urandom(512), "indexed"),
        "text chunk bomb.png": (_encode(make_photo_image(26), "PNG", pnginfo=text_bomb), "corrupt"),
        "icon named.png": (_encode(make_photo_image(27).resize((32, 32)), "ICO"), "not an image"),
        "dds named.jpg": (_encode(make_photo_image(28), "DDS"), "not an image"),
        "postscript named.jpg": (eps, "not an image"),
    }


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims `width` x `height`."""
    data = bytearray(_encode(Image.new("RGB", (16, 16), (200, 10, 10)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)
