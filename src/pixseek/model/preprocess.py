"""CLIP's image preprocessing, reproduced exactly on Pillow + NumPy (no torch at run time).

Resize the shortest side to `size` with bicubic, centre-crop a square, scale to [0, 1] and
normalise with CLIP's mean/std: the same arithmetic as `CLIPImageProcessor`, so our vectors
match the reference for the same pixels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def resized_size(width: int, height: int, size: int) -> tuple[int, int]:
    """Shortest side to `size`, the other scaled and truncated, as transformers computes it."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


class ClipPreprocessor:
    """Turns an RGB PIL image into the float32 CHW tensor the image tower expects."""

    def __init__(self, size: int, mean, std):
        self.size = size
        std = np.asarray(std, dtype=np.float32)
        self._scale = (1.0 / (255.0 * std)).reshape(1, 1, 3)
        self._offset = (np.asarray(mean, dtype=np.float32) / std).reshape(1, 1, 3)

    def __call__(self, image: Image.Image) -> np.ndarray:
        if image.mode != "RGB":
            image = image.convert("RGB")
        new_w, new_h = resized_size(image.width, image.height, self.size)
        if (new_w, new_h) != image.size:
            image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
        left = (new_w - self.size) // 2
        top = (new_h - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        pixels = np.asarray(image, dtype=np.float32)
        normalised = pixels * self._scale - self._offset
        return np.ascontiguousarray(normalised.transpose(2, 0, 1))
