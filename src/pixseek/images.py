"""Open and decode images safely and fast, for CLIP and for thumbnails.

Every failure becomes an `ImageError` with a short reason (empty, not an image, truncated,
too large, corrupt) so the indexer can skip the file and say why. JPEGs are decoded at a
reduced size with `Image.draft` (DCT scaling), which is most of our indexing speed on camera
photos. EXIF orientation is applied; CMYK, palette, alpha and 16-bit images become proper RGB.

The bytes are untrusted: only the formats we index are parsed (not every Pillow plugin, some of
which shell out or are rarely exercised), sizes are checked before any pixel is decoded, and
any exception a damaged file provokes in a decoder becomes an ImageError.
"""

from __future__ import annotations

import io
import os
import stat

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from pixseek.environment import number
from pixseek.errors import ImageError
from pixseek.raw import is_raw_name, raw_picture

# Pixels we agree to decode (PIXSEEK_MAX_PIXELS): 200 MP covers big panoramas and refuses
# decompression bombs. Checked by us before decoding: Pillow's own check only warns below twice
# its limit, and warning filters are process-wide state that any library (or test runner) may reset.
DEFAULT_MAX_PIXELS = 200_000_000
MAX_ASPECT = 16  # longer strips that must be scaled up keep their middle (see _crop_elongated)
MAX_FILE_BYTES = 512 * 1024 * 1024
# Bump whenever decode() changes the pixels it returns for the same bytes (orientation, colour
# conversion, reduced-size decoding): vectors embedded elsewhere (cluster shards) record it, and
# shards made with another version are refused rather than mixed into an index.
DECODE_VERSION = 1
ImageFile.LOAD_TRUNCATED_IMAGES = False
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "HEIF", "AVIF")  # those of files.py's extensions
ORIENTATION = 0x0112
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}

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
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the open, a device never end
            raise ImageError("not a regular file", "a folder, device, pipe or socket")
        size = info.st_size
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


def max_pixels() -> int:
    return number("PIXSEEK_MAX_PIXELS", DEFAULT_MAX_PIXELS, minimum=1)


def _check_size(width: int, height: int, limit: int) -> None:
    """Refuse before decoding what would take too much memory to decode."""
    if width < 1 or height < 1:
        raise ImageError("corrupt", "zero-sized image")
    if width * height > limit:
        raise ImageError("too large", f"{width}x{height} px, over {limit / 1_000_000:g} megapixels")


def _crop_elongated(image: Image.Image, min_side: int) -> Image.Image:
    """A strip narrower than `min_side` but MAX_ASPECT times longer, cropped to its middle.

    CLIP scales the short side to `min_side` and keeps the centre square: scaling all of a
    60000x1 strip would make 13 gigapixels, while the middle, MAX_ASPECT times as long as the
    strip is wide, holds that square and scales to a few hundred kilopixels."""
    width, height = image.size
    short, long = min(width, height), max(width, height)
    if short >= min_side or long <= short * MAX_ASPECT:
        return image
    keep = short * MAX_ASPECT
    start = (long - keep) // 2
    return image.crop((start, 0, start + keep, height) if width > height else (0, start, width, start + keep))


def _claimed_format(data: bytes) -> str | None:
    """The format among ours whose signature `data` starts with, by Pillow's own checks."""
    Image.init()
    for name in FORMATS:
        accept = Image.OPEN.get(name, (None, None))[1]
        if accept is not None and accept(data[:16]):
            return name
    return None


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; EXIF that cannot be read leaves the pixels as they are."""
    try:
        method = TRANSPOSE.get(int(image.getexif().get(ORIENTATION, 1)))
    except Exception:  # damaged EXIF is common in camera files and says nothing about the pixels
        method = None
    return image.transpose(method) if method is not None else image


def decode(data: bytes, min_side: int | None = None, name: str = "") -> Image.Image:
    """Decode `data` to an upright RGB image; with `min_side`, JPEGs may come back smaller but
    never with a side under `min_side` (enough for a `min_side` CLIP crop or thumbnail).
    A RAW file is known by its `name`'s extension (see raw.py)."""
    if not data:
        raise ImageError("empty file")
    if is_raw_name(name):
        return _decode_raw(data, min_side)
    heif_supported()
    limit = max_pixels()
    Image.MAX_IMAGE_PIXELS = limit  # Pillow's own guard, for what it checks while decoding
    try:
        image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
        _check_size(image.width, image.height, limit)
        if min_side and image.format == "JPEG":
            image.draft("RGB", (min_side, min_side))
        image.load()
        image = _upright(image)
        _check_size(image.width, image.height, limit)
        return _to_rgb(_crop_elongated(image, min_side) if min_side else image)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # the warning, where made an error
        raise ImageError("too large", f"over {limit / 1_000_000:g} megapixels") from None
    except UnidentifiedImageError:
        claimed = _claimed_format(data)
        if claimed:  # the signature is right, what follows is not
            raise ImageError("corrupt", f"a damaged {claimed} file") from None
        raise ImageError("not an image", "unrecognised format") from None
    except MemoryError:
        raise ImageError("too large", "not enough memory to decode") from None
    except Exception as exc:  # Pillow's plugins raise many types for damaged input, and only for that
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        reason = "truncated" if "truncated" in message.lower() or isinstance(exc, EOFError) else "corrupt"
        raise ImageError(reason, message[:120]) from None


def _decode_raw(data: bytes, min_side: int | None) -> Image.Image:
    picture = raw_picture(data, min_side)
    if isinstance(picture.jpeg_or_pixels, bytes):
        image = decode(picture.jpeg_or_pixels, min_side)
    else:
        height, width = picture.jpeg_or_pixels.shape[:2]
        _check_size(width, height, max_pixels())
        image = Image.fromarray(picture.jpeg_or_pixels, "RGB")
    return image.transpose(picture.flip) if picture.flip is not None else image


def perceptual_hash(image: Image.Image) -> int:
    """The 64-bit DCT perceptual hash (imagehash's phash) that confirms near-duplicates. The
    32x32 grey picture it hashes is made here with Pillow's reducing resize: 5x cheaper than
    imagehash's own full LANCZOS pass, within a few bits of it (docs/duplicates.md). The bits are
    imagehash.phash's of that picture (its two DCTs, median and bit order), without its
    copies, objects and hex round trip: 40% less CPU, all of it under the interpreter lock."""
    import scipy.fftpack  # why: 0.1 s to import, paid only by processes that hash

    small = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=2.0)
    low = scipy.fftpack.dct(scipy.fftpack.dct(np.asarray(small), axis=0), axis=1)[:8, :8]
    return int.from_bytes(np.packbits(low > np.median(low)).tobytes(), "big")


def open_upright(path: str, min_side: int | None = None) -> Image.Image:
    return decode(read_file(path), min_side, name=path)


def thumbnail_jpeg(data: bytes, size: int, name: str) -> bytes:
    """A JPEG thumbnail of a file's bytes (`name`: its path) that fits in `size` x `size`, made
    with a reduced-size decode."""
    image = decode(data, size, name=name)
    image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
