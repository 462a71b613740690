"""Xenova's transformers.js exports (e.g. `Xenova/clip-vit-base-patch32`): Hugging Face CLIP as ONNX.

    onnx/vision_model.onnx   pixel_values float32 (N, 3, S, S) -> image_embeds (N, D), not normalised
    onnx/text_model.onnx     input_ids int64 (N, L) -> text_embeds (N, D), not normalised
    tokenizer.json, preprocessor_config.json (CLIPImageProcessor), config.json (CLIPConfig)

The repos also hold `_quantized` and `_fp16` towers and a combined model.onnx; only the fp32
towers are fetched (int8 is made and checked here). Preprocessing is Hugging Face's: shortest
side, centre crop with floored offsets.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pixseek.model.sources.common import (
    embedding_size, image_input, interpolation, new_config, place_tower, prefix_of, read_json, require, text_input,
    write_bundle,
)

NAME = "xenova"
DESCRIPTION = "transformers.js export (onnx/vision_model.onnx, onnx/text_model.onnx)"
IMAGE, TEXT = "onnx/vision_model.onnx", "onnx/text_model.onnx"
CONFIGS = ["config.json", "preprocessor_config.json", "tokenizer.json"]


def locate(names: Collection[str]) -> str | None:
    return prefix_of(names, IMAGE, TEXT)


def files(root: str) -> tuple[list[str], list[str]]:
    return [root + name for name in (IMAGE, TEXT, *CONFIGS)], []


def _edge(value: object, fallback: int) -> int:
    """A size from preprocessor_config.json: an int (old files) or a dict (newer ones)."""
    if isinstance(value, dict):
        value = value.get("shortest_edge", value.get("height"))
    return value if isinstance(value, int) else fallback


def preprocessing(config_file: Path, image_size: int) -> dict[str, Any]:
    """The bundle's preprocessing fields from CLIPImageProcessor's settings (a
    preprocessor_config.json), refusing what pixseek does not reproduce."""
    config = read_json(config_file)
    size, crop = _edge(config.get("size"), image_size), _edge(config.get("crop_size"), image_size)
    require(config.get("do_center_crop", True) and size == crop == image_size,
            f"preprocessor_config.json resizes to {size} and crops {crop}; pixseek reproduces CLIP's resize to "
            f"{image_size} and centre crop")
    fields: dict[str, Any] = {"interpolation": interpolation(config.get("resample", 3)), "crop_rounding": "floor",
                              "resize_mode": "shortest"}
    if config.get("do_normalize", True) is False:  # MobileCLIP: pixels in [0, 1], no mean or std
        fields["mean"], fields["std"] = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        return fields
    for key, name in (("mean", "image_mean"), ("std", "image_std")):
        if name in config:
            fields[key] = tuple(float(v) for v in config[name])
    return fields


def convert(folder: Path, workdir: Path, model_id: str | None) -> Path:
    config = read_json(folder / "config.json")
    vision, words = config.get("vision_config") or {}, config.get("text_config") or {}
    workdir.mkdir(parents=True)
    image, text = place_tower(folder / IMAGE, workdir, "image"), place_tower(folder / TEXT, workdir, "text")
    layout, size = image_input(image.graph, IMAGE)
    size = size or vision.get("image_size") or 224
    context = text_input(text.graph, TEXT) or words.get("max_position_embeddings") or 77
    dim = embedding_size(image.graph, IMAGE, config.get("projection_dim"))
    require(embedding_size(text.graph, TEXT, dim) == dim, "the image and text towers give vectors of different sizes")
    shutil.copyfile(folder / "tokenizer.json", workdir / "tokenizer.json")
    name = config.get("_name_or_path")
    return write_bundle(workdir, new_config(
        image, text, model_id=model_id or (name if isinstance(name, str) and name.count("/") == 1 else folder.name),
        embedding_dim=dim, image_size=size, context_length=context, image_layout=layout,
        **preprocessing(folder / "preprocessor_config.json", size)))
