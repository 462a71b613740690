"""Immich's exports (`immich-app/<model>__<pretrained>`, 40+ open_clip and M-CLIP models).

    config.json                  open_clip's model config: embed_dim, vision_cfg, text_cfg
                                 (context_length, tokenizer_kwargs.clean)
    visual/model.onnx            image float32 (N or 1, 3, S, S) -> L2-normalised embedding
    visual/preprocess_cfg.json   size, mean, std, interpolation, resize_mode (shortest or squash)
    textual/model.onnx           text int32 (N or 1, L) -> normalised embedding; M-CLIP towers
                                 take input_ids + attention_mask
    textual/tokenizer.json, textual/tokenizer_config.json (its pad token)

Exports since 2024 fix the batch at 1 (older ones are dynamic); large towers keep their weights
in separate files, which the graph names. The repos also carry ARM NN and RKNN files (hundreds
of MB) that are never fetched. Preprocessing follows open_clip, which the models were trained and
evaluated with: torchvision's rounded crop offsets, and SigLIP's squash resize (Immich's own
server always crops; see docs/model.md). NLLB-CLIP (`nllb-clip-*`) takes the query's language as
a FLORES-200 code before its words (open_clip's tokenizer `language`; Immich prefixes the user's
interface language): pixseek detects it, see languages.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pixseek.errors import ModelInvalid
from pixseek.model.languages import DEFAULT_CODE
from pixseek.model.preprocess import RESIZE_MODES
from pixseek.model.sources.common import (
    embedding_size, image_input, interpolation, load_tokenizer, new_config, place_tower, prefix_of, read_json, require,
    text_input, write_bundle,
)

NAME = "immich"
DESCRIPTION = "Immich export (visual/model.onnx, textual/model.onnx)"
IMAGE, TEXT = "visual/model.onnx", "textual/model.onnx"
REQUIRED = ["config.json", "visual/preprocess_cfg.json", "textual/tokenizer.json"]
CLIP_END = "<|endoftext|>"


def locate(names: Collection[str]) -> str | None:
    return prefix_of(names, IMAGE, TEXT)


def files(root: str) -> tuple[list[str], list[str]]:
    return [root + name for name in (IMAGE, TEXT, *REQUIRED)], [root + "textual/tokenizer_config.json"]


def _pad_token(folder: Path) -> str:
    config = read_json(folder / "textual" / "tokenizer_config.json")
    token = config.get("pad_token")
    token = token.get("content") if isinstance(token, dict) else token
    if not isinstance(token, str):
        raise ModelInvalid("textual/tokenizer_config.json names no pad token")
    return token


def text_settings(folder: Path, text_cfg: dict[str, Any], takes_mask: bool) -> dict[str, Any]:
    """Cleaning and padding as open_clip (or M-CLIP) tokenizes for this model."""
    tokenizer = load_tokenizer(folder / "textual" / "tokenizer.json")
    if tokenizer.token_to_id(CLIP_END) is not None:  # OpenAI's BPE: SimpleTokenizer's ways
        return {"text_clean": "clip", "pad_id": 0, "trim_padding": True}
    pad = tokenizer.token_to_id(_pad_token(folder))
    require(pad is not None, "the pad token of textual/tokenizer_config.json is not in textual/tokenizer.json")
    # open_clip's HFTokenizer cleans whitespace unless the config says otherwise; M-CLIP does not clean.
    clean = "none" if takes_mask else (text_cfg.get("tokenizer_kwargs") or {}).get("clean", "whitespace")
    require(clean in ("none", "whitespace", "canonicalize", "lower"), f"config.json asks for text cleaning {clean!r}")
    # NLLB's tokenizer holds the FLORES-200 language codes; its tower reads the query's language first.
    languages = "flores200" if tokenizer.token_to_id(DEFAULT_CODE) is not None else ""
    return {"text_clean": clean, "pad_id": pad, "trim_padding": False, "language_codes": languages}


def image_settings(folder: Path) -> dict[str, Any]:
    config = read_json(folder / "visual" / "preprocess_cfg.json")
    size = config.get("size")
    size = size[0] if isinstance(size, list) and size else size
    mode = config.get("resize_mode", "shortest")
    require(mode in RESIZE_MODES,
            f"visual/preprocess_cfg.json asks for resize mode {mode!r}; pixseek reproduces {', '.join(RESIZE_MODES)}")
    require(isinstance(size, int) and size > 0, "visual/preprocess_cfg.json gives no image size")
    fields = {"image_size": size, "resize_mode": mode, "crop_rounding": "round",
              "interpolation": interpolation(config.get("interpolation", "bicubic"))}
    for key in ("mean", "std"):
        if key in config:
            require(isinstance(config[key], list) and len(config[key]) == 3, f"visual/preprocess_cfg.json has a bad {key}")
            fields[key] = tuple(float(v) for v in config[key])
    return fields


def convert(folder: Path, workdir: Path, model_id: str | None) -> Path:
    config = read_json(folder / "config.json")
    text_cfg = config.get("text_cfg") or {}
    fields = image_settings(folder)
    workdir.mkdir(parents=True)
    image, text = place_tower(folder / IMAGE, workdir, "image"), place_tower(folder / TEXT, workdir, "text")
    layout, size = image_input(image.graph, IMAGE)
    require(size in (None, fields["image_size"]),
            f"{IMAGE} takes {size} px images, preprocess_cfg.json says {fields['image_size']}")
    context = text_input(text.graph, TEXT) or text_cfg.get("context_length", 77)
    dim = embedding_size(image.graph, IMAGE, config.get("embed_dim"))
    require(embedding_size(text.graph, TEXT, dim) == dim, "the image and text towers give vectors of different sizes")
    shutil.copyfile(folder / "textual" / "tokenizer.json", workdir / "tokenizer.json")
    return write_bundle(workdir, new_config(
        image, text, model_id=model_id or f"immich-app/{folder.name}", embedding_dim=dim, context_length=context,
        image_layout=layout, **fields, **text_settings(folder, text_cfg, len(text.graph.inputs) == 2)))
