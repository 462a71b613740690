"""rclip's models (`yurijmikhalevich/rclip-models`): open_clip towers exported by rclip.

    <model>/visual.onnx    input float32 (N, 3, S, S) -> output (N, D), not normalised (S = 256
                           for ViT-B-32-256-datacomp_s34b_b86k)
    <model>/textual.onnx   input int64 (N, 77), zero-padded -> output (N, D), not normalised
    tokenizer/bpe_simple_vocab_16e6.txt.gz   OpenAI's BPE vocabulary (pixseek ships the same file)

Some exports ship an int8 image tower or an fp16 text tower; the graph says which. The repo's
history is squashed at each upload, so no commit can be pinned: the installer checks each file's
I/O instead. Preprocessing is open_clip's (shortest side, bicubic, rounded centre crop, OpenAI's
mean and std), tokenization OpenAI's.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from pixseek.model.clip_bpe import VOCAB_FILE, write_clip_tokenizer
from pixseek.model.sources.common import (
    embedding_size, image_input, new_config, place_tower, prefix_of, require, text_input, write_bundle,
)

NAME = "rclip"
DESCRIPTION = "rclip export (<model>/visual.onnx, <model>/textual.onnx)"
IMAGE, TEXT = "visual.onnx", "textual.onnx"
VOCAB = "tokenizer/bpe_simple_vocab_16e6.txt.gz"


def locate(names: Collection[str]) -> str | None:
    return prefix_of(names, IMAGE, TEXT)


def files(root: str) -> tuple[list[str], list[str]]:
    return [root + IMAGE, root + TEXT], []


def convert(folder: Path, workdir: Path, model_id: str | None) -> Path:
    workdir.mkdir(parents=True)
    image, text = place_tower(folder / IMAGE, workdir, "image"), place_tower(folder / TEXT, workdir, "text")
    layout, size = image_input(image.graph, IMAGE)
    named = re.search(r"-(\d{3})-", folder.name)  # open_clip names a non-default size: ViT-B-32-256-...
    size = size or (int(named.group(1)) if named else 224)
    context = text_input(text.graph, TEXT) or 77
    dim = embedding_size(image.graph, IMAGE, None)
    require(embedding_size(text.graph, TEXT, dim) == dim, "the image and text towers give vectors of different sizes")
    shipped = folder.parent / VOCAB
    write_clip_tokenizer(workdir / "tokenizer.json", shipped if shipped.is_file() else VOCAB_FILE)
    return write_bundle(workdir, new_config(
        image, text, model_id=model_id or f"rclip/{folder.name}", embedding_dim=dim, image_size=size,
        context_length=context, image_layout=layout, resize_mode="shortest", crop_rounding="round",
        interpolation="bicubic", text_clean="clip", pad_id=0, trim_padding=True))
