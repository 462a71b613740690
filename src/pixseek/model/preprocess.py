"""CLIP-family image preprocessing, reproduced exactly on Pillow + NumPy (no torch at run time).

Each model family was trained with its own variant, and vectors only match the reference when
the pixels do, so the bundle config names the variant:
- `resize_mode` "shortest": shortest side to `size` (the other scaled and truncated, as both
  transformers and torchvision compute it), then a centre crop; "squash": both sides to `size`
  (open_clip's SigLIP models), no crop.
- `crop_rounding` "floor": the crop offset is `(side - size) // 2`, as Hugging Face's
  CLIPImageProcessor does; "round": `round((side - size) / 2)`, as torchvision's CenterCrop
  (open_clip, Immich's and rclip's models) does. They differ by one pixel for some sizes.
- `interpolation` "bicubic" or "bilinear" (Pillow's filters, which torchvision uses for PIL images).
- `layout` "float32-nchw": scaled to [0, 1] and normalised with the model's mean and std;
  "uint8-nhwc": the cropped pixels as they are, for towers that normalise inside the graph.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np
from PIL import Image

RESIZE_MODES = ("shortest", "squash")
CROP_ROUNDINGS = ("floor", "round")
INTERPOLATIONS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
LAYOUTS = ("float32-nchw", "uint8-nhwc")


def resized_size(width: int, height: int, size: int) -> tuple[int, int]:
    """Shortest side to `size`, the other scaled and truncated, as transformers and torchvision compute it."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def crop_offset(side: int, size: int, rounding: str) -> int:
    return (side - size) // 2 if rounding == "floor" else int(round((side - size) / 2.0))


class ClipPreprocessor:
    """Turns an RGB PIL image into the array one image of a tower's batch is made of."""

    def __init__(self, size: int, mean: Sequence[float], std: Sequence[float], resize_mode: str = "shortest",
                 crop_rounding: str = "floor", interpolation: str = "bicubic", layout: str = "float32-nchw"):
        self.size = size
        self.resize_mode, self.crop_rounding, self.layout = resize_mode, crop_rounding, layout
        self.interpolation = interpolation
        self._filter = INTERPOLATIONS[interpolation]
        stds = np.asarray(std, dtype=np.float32)
        scale = (1.0 / (255.0 * stds)).reshape(3, 1)
        offset = (np.asarray(mean, dtype=np.float32) / stds).reshape(3, 1)
        # Each channel's 256 possible values, normalised once: a look-up per pixel gives the
        # same float32 as computing value * scale - offset for it, at a tenth of the CPU.
        self._table = np.arange(256, dtype=np.float32)[None, :] * scale - offset
        self.mean, self.std = tuple(mean), tuple(float(s) for s in stds)

    @property
    def fingerprint(self) -> str:
        """Names this exact preprocessing: vectors made with another fingerprint are not comparable."""
        settings = [self.size, self.mean, self.std, self.resize_mode, self.crop_rounding, self.interpolation, self.layout]
        return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]

    def crop(self, image: Image.Image) -> Image.Image:
        """The `size` x `size` RGB image the model sees."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        if self.resize_mode == "squash":
            if image.size != (self.size, self.size):
                image = image.resize((self.size, self.size), self._filter)
            return image
        new_w, new_h = resized_size(image.width, image.height, self.size)
        if (new_w, new_h) != image.size:
            image = image.resize((new_w, new_h), self._filter)
        left = crop_offset(new_w, self.size, self.crop_rounding)
        top = crop_offset(new_h, self.size, self.crop_rounding)
        return image.crop((left, top, left + self.size, top + self.size))

    def __call__(self, image: Image.Image) -> np.ndarray:
        pixels = np.asarray(self.crop(image))
        if self.layout == "uint8-nhwc":
            return np.ascontiguousarray(pixels, dtype=np.uint8)
        planes = np.empty((3, self.size, self.size), dtype=np.float32)
        for channel in range(3):
            np.take(self._table[channel], pixels[:, :, channel], out=planes[channel])
        return planes

    def blank(self, count: int = 1) -> np.ndarray:
        """A batch of `count` black images, already preprocessed (to check that a tower runs)."""
        return np.stack([self(Image.new("RGB", (self.size, self.size)))] * count)
