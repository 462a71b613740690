"""Open and decode images safely and fast, for CLIP and for thumbnails.

Every failure becomes an `ImageError` with a short reason (empty, not an image, truncated,
too large, corrupt) so the indexer can skip the file and say why. JPEGs are decoded at a
reduced size with `Image.draft` (DCT scaling), which is most of our indexing speed on camera
photos. EXIF orientation is applied; CMYK, palette, alpha and 16-bit images become proper RGB.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from pixseek.errors import ImageError

# Pixels we agree to decode: 200 MP covers big panoramas and refuses decompression bombs. Pillow's
# bomb warning is made an error so the limit holds in every decoder thread.
MAX_PIXELS = int(os.environ.get("PIXSEEK_MAX_PIXELS", 200_000_000))
MAX_FILE_BYTES = 512 * 1024 * 1024
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False

_heif_registered: bool | None = None


def heif_supported() -> bool:
    """Register pillow-heif's HEIC/AVIF opener once, if it is installed."""
    global _heif_registered
    if _heif_registered is None:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True
        except ImportError:
            _heif_registered = False
    return _heif_registered


def read_file(path: str) -> bytes:
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise ImageError("empty file")
        if size > MAX_FILE_BYTES:
            raise ImageError("too large", f"{size // 2**20} MiB file")
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ImageError("unreadable", exc.strerror or str(exc)) from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is laid on white, 16-bit is scaled down."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def decode(data: bytes, min_side: int | None = None) -> Image.Image:
    """Decode `data` to an upright RGB image; with `min_side`, JPEGs may come back smaller but
    never with a side under `min_side` (enough for a `min_side` CLIP crop or thumbnail)."""
    if not data:
        raise ImageError("empty file")
    try:
        image = Image.open(io.BytesIO(data))
        if min_side and image.format == "JPEG":
            image.draft("RGB", (min_side, min_side))
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.width < 1 or image.height < 1:
            raise ImageError("corrupt", "zero-sized image")
        return _to_rgb(image)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("too large", f"over {MAX_PIXELS // 1_000_000} megapixels") from None
    except UnidentifiedImageError:
        raise ImageError("not an image", "unrecognised format") from None
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError,
            ZeroDivisionError, OverflowError, MemoryError, AttributeError) as exc:
        # Pillow's plugins raise all of these for damaged files, and only for damaged files.
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        reason = "truncated" if "truncated" in message.lower() or isinstance(exc, EOFError) else "corrupt"
        raise ImageError(reason, message[:120]) from None


def open_upright(path: str, min_side: int | None = None) -> Image.Image:
    return decode(read_file(path), min_side)


def thumbnail_jpeg(path: str, size: int) -> bytes:
    """A JPEG thumbnail that fits in `size` x `size`, made with a reduced-size decode."""
    image = open_upright(path, min_side=size)
    image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
