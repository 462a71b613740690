"""The same real face changed the ways a library holds it: cropped, scaled, rotated, darker,
brighter (the issue's "crop, scale, rotation and light changes"), each with where the face's
centre went, so that the face found nearest it is the same face. Shared by the tests of real
faces (dlib's and InsightFace's weights) and the people benchmark."""

from __future__ import annotations

import math

from PIL import Image, ImageEnhance

VARIANTS = ("original", "crop", "scale 0.6", "scale 1.5", "rotate +15", "rotate -15", "darker", "brighter")


def around(image: Image.Image, box: tuple[float, float, float, float]) -> tuple[Image.Image, tuple[float, float], float]:
    """The face's surroundings (its side again on every side), its centre there, and its side."""
    side = max(box[2] - box[0], box[3] - box[1])
    left, top = round(box[0] - side), round(box[1] - side)
    region = image.crop((left, top, round(box[2] + side), round(box[3] + side)))
    return region, ((box[0] + box[2]) / 2 - left, (box[1] + box[3]) / 2 - top), side


def variant(image: Image.Image, name: str, centre: tuple[float, float]) -> tuple[Image.Image, tuple[float, float], float]:
    """The changed image, where the face's centre went in it, and by how much its size changed."""
    w, h = image.size
    x, y = centre
    if name == "crop":
        return image.crop((w // 10, h // 8, w - w // 20, h)), (x - w // 10, y - h // 8), 1.0
    if name.startswith("scale"):
        factor = float(name.split()[1])
        return image.resize((round(w * factor), round(h * factor))), (x * factor, y * factor), factor
    if name.startswith("rotate"):
        angle = math.radians(float(name.split()[1]))
        turned = image.rotate(float(name.split()[1]), resample=Image.Resampling.BILINEAR, expand=True)
        dx, dy = x - w / 2, y - h / 2  # counter-clockwise on screen, y pointing down
        return turned, (turned.width / 2 + dx * math.cos(angle) + dy * math.sin(angle),
                        turned.height / 2 - dx * math.sin(angle) + dy * math.cos(angle)), 1.0
    if name in ("darker", "brighter"):
        return ImageEnhance.Brightness(image).enhance(0.6 if name == "darker" else 1.5), centre, 1.0
    return image, centre, 1.0
