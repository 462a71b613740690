"""Photos for checking a quantized image tower: the user's own when given, generated ones otherwise.

Generated pictures mix smooth colour fields, texture and hard-edged shapes at several sizes, so
that activations cover a wide range as real photos do; no photo is shipped with pixseek (licences).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pixseek.errors import ImageError
from pixseek.files import image_extensions
from pixseek.images import open_upright

def generated_photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A deterministic picture: a smooth random colour field, noise texture and a few shapes."""
    rng = np.random.default_rng(seed)
    w, h = size
    coarse = rng.random((4 + seed % 5, 4 + seed % 7, 3)) * 255
    field = Image.fromarray(coarse.astype(np.uint8), "RGB").resize(size, Image.Resampling.BICUBIC)
    pixels = np.asarray(field, dtype=np.float32) + rng.normal(0, 6 + seed % 20, (h, w, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 9))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(8, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = int(rng.integers(0, 3))
        if shape == 0:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        elif shape == 1:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            draw.line([x0, y0, x1, y1], fill=colour, width=int(rng.integers(2, 12)))
    if seed % 3 == 0:
        image = image.filter(ImageFilter.GaussianBlur(1 + seed % 4))
    return image


@lru_cache(maxsize=4)
def generated_photos(count: int) -> tuple[Image.Image, ...]:
    """`count` generated photos (cached: making them costs about 30 ms each)."""
    sizes = [(320, 240), (240, 320), (500, 375), (224, 224), (640, 427)]
    return tuple(generated_photo(seed, sizes[seed % len(sizes)]) for seed in range(count))


def folder_photos(folder: Path, count: int) -> list[Image.Image]:
    """Up to `count` photos from `folder` (recursively), spread over its sorted file list, read as
    indexing reads them: the same formats, the same safety limits, unreadable files passed over."""
    extensions = image_extensions()
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in extensions and p.is_file())
    step = max(1, len(files) // count)
    photos = []
    for path in files[::step]:
        try:
            photos.append(open_upright(str(path), min_side=448))
        except ImageError:
            continue
        if len(photos) == count:
            break
    return photos


def sample_photos(folder: Path | None = None, count: int = 64) -> list[Image.Image]:
    """The user's photos from `folder` when it has enough, topped up with generated ones."""
    photos = folder_photos(folder, count) if folder else []
    return photos + list(generated_photos(count - len(photos)))
