"""Camera RAW files (CR2, CR3, NEF, ARW, DNG, RAF, ORF, RW2) through LibRaw, by `rawpy`.

An optional extra (`pip install 'pixseek[raw]'`): without it RAW files are skipped with that
fix as the reason, and retried once it is installed. Every RAW holds a preview its camera
rendered (usually a full-size JPEG): when its short side is at least what is asked for, that is
the picture, at the cost of a JPEG decode; else the sensor data is demosaiced at half size
(LibRaw's fast path: each 2x2 block of the mosaic becomes one pixel).

This module hands back bytes or pixels and leaves decoding and checks to images.py.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
from PIL import Image

from pixseek.errors import ImageError

RAW_EXTENSIONS = frozenset({".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2"})
RAW_FIX = "install rawpy to index RAW photos: pip install 'pixseek[raw]'"
NEEDS_RAWPY = "RAW support not installed"  # the skip reason; such files are retried once rawpy is there
FLIPS = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}

_rawpy: ModuleType | Literal[False] | None = None  # None: not tried yet; False: not installed


def is_raw_name(path: str) -> bool:
    dot = path.rfind(".")
    return dot >= 0 and path[dot:].lower() in RAW_EXTENSIONS


def raw_supported() -> bool:
    return _loaded_rawpy() is not None


def _loaded_rawpy() -> ModuleType | None:
    """rawpy, imported on first use; None where it is not installed."""
    global _rawpy
    if _rawpy is None:
        try:
            import rawpy

            _rawpy = rawpy
        except ImportError:
            _rawpy = False
    return _rawpy or None


@dataclass(frozen=True)
class RawPicture:
    """A RAW file's picture: the preview's JPEG bytes, or RGB pixels; `flip` turns it upright."""

    jpeg_or_pixels: bytes | np.ndarray
    flip: Image.Transpose | None


def raw_picture(data: bytes, min_side: int | None) -> RawPicture:
    """The embedded preview if its short side is at least `min_side` (any preview without one),
    else the half-size demosaic. Raises ImageError for a file LibRaw cannot read."""
    rawpy = _loaded_rawpy()
    if rawpy is None:
        raise ImageError(NEEDS_RAWPY, RAW_FIX)
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            flip = FLIPS.get(raw.sizes.flip)
            preview = _preview(rawpy, raw)
            if preview is not None and (not min_side or min(_size(preview)) >= min_side):
                if isinstance(preview, bytes):  # a preview with its own EXIF orientation is turned by that
                    return RawPicture(preview, None if _oriented(preview) else flip)
                return RawPicture(preview, flip)
            pixels = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8, no_auto_bright=False)
            return RawPicture(pixels, None)  # postprocess turns the picture upright itself
    except rawpy.LibRawError as exc:
        raise ImageError("corrupt", f"not a readable RAW file ({exc.__class__.__name__.removeprefix('LibRaw')})") from None
    except MemoryError:
        raise ImageError("too large", "not enough memory to decode") from None


def _preview(rawpy: ModuleType, raw: Any) -> bytes | np.ndarray | None:
    """`raw` (an open rawpy.RawPy)'s embedded preview: JPEG bytes, RGB pixels, or None."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return bytes(thumb.data)
    pixels = np.asarray(thumb.data)
    return pixels if pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8 else None


def _size(preview: bytes | np.ndarray) -> tuple[int, int]:
    if isinstance(preview, bytes):
        try:
            with Image.open(io.BytesIO(preview), formats=("JPEG",)) as image:
                return image.size
        except Exception:  # a damaged preview: demosaic instead
            return (0, 0)
    return int(preview.shape[1]), int(preview.shape[0])


def _oriented(jpeg: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(jpeg), formats=("JPEG",)) as image:
            return bool(image.getexif().get(0x0112, 1) != 1)
    except Exception:
        return False


def raw_exif_and_size(data: bytes) -> tuple[Image.Exif | None, tuple[int, int] | None]:
    """EXIF of a RAW file: its own TIFF structure (DNG, CR2, NEF, ARW), else its preview's
    (CR3, RAF, ORF, RW2); and the upright size of the developed picture, when rawpy is there."""
    exif: Image.Exif | None
    try:
        exif = Image.Exif()
        exif.load(data)
    except Exception:  # not TIFF-based
        exif = None
    size = None
    rawpy = _loaded_rawpy()
    if rawpy is not None:
        try:
            with rawpy.imread(io.BytesIO(data)) as raw:
                sizes = raw.sizes
                size = (sizes.width, sizes.height)
                if sizes.flip in (5, 6):
                    size = size[::-1]
                if not exif:
                    preview = _preview(rawpy, raw)
                    if isinstance(preview, bytes):
                        with Image.open(io.BytesIO(preview), formats=("JPEG",)) as image:
                            exif = image.getexif()
        except Exception:  # a damaged RAW: decoding says why
            pass
    return (exif or None), size
