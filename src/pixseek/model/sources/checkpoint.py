"""A Hugging Face CLIP checkpoint in PyTorch format (`openai/clip-vit-base-patch16` and the like),
exported to ONNX here. The one route that needs PyTorch: `pip install 'pixseek[export]'`."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pixseek.errors import ModelInvalid
from pixseek.model import export
from pixseek.model.bundle import Bundle, first_line
from pixseek.model.sources.common import prefix_of
from pixseek.model.sources.xenova import preprocessing

NAME = "checkpoint"
DESCRIPTION = "Hugging Face CLIP checkpoint (config.json + model.safetensors or pytorch_model.bin; needs PyTorch)"
NEEDS_EXPORT = True
WEIGHTS = ("model.safetensors", "pytorch_model.bin")
EXTRAS = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
          "preprocessor_config.json")


def locate(names: Collection[str]) -> str | None:
    found = [prefix_of(names, "config.json", weights) for weights in WEIGHTS]
    return min((p for p in found if p is not None), key=len, default=None)


def files(root: str) -> tuple[list[str], list[str]]:
    return [root + "config.json"], [root + name for name in (*WEIGHTS, *EXTRAS)]


def read_checkpoint_name(folder: Path) -> str | None:
    """The hub id a checkpoint's config.json says it was saved from, if it names one."""
    try:
        name = json.loads((Path(folder) / "config.json").read_text()).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name.count("/") == 1 and not Path(name).exists() else None


def convert(folder: Path, workdir: Path, model_id: str | None) -> Path:
    return export_checkpoint(str(folder), workdir, model_id or read_checkpoint_name(folder) or folder.name).path


def checkpoint_preprocessing(checkpoint: str, image_size: int) -> dict[str, Any]:
    """The bundle's preprocessing fields from the checkpoint's preprocessor_config.json (read as
    Xenova's exports of such checkpoints are), refusing what pixseek does not reproduce."""
    from transformers.utils.hub import cached_file

    path = cached_file(checkpoint, "preprocessor_config.json", _raise_exceptions_for_missing_entries=False,
                       _raise_exceptions_for_connection_errors=False)
    return preprocessing(Path(path), image_size) if path is not None else {}


def export_checkpoint(checkpoint: str, destination: Path, model_id: str | None = None) -> Bundle:
    """Export a CLIP checkpoint in Hugging Face format (a local folder or a hub id)."""
    export.require_export_extra()
    from transformers import CLIPModel, CLIPTokenizer

    try:
        model = CLIPModel.from_pretrained(checkpoint).eval()  # type: ignore[no-untyped-call]
        tokenizer = CLIPTokenizer.from_pretrained(checkpoint)
    except (OSError, ValueError) as exc:
        raise ModelInvalid(f"cannot load CLIP checkpoint {checkpoint}: {first_line(exc)}") from None
    fields = checkpoint_preprocessing(checkpoint, model.config.vision_config.image_size)
    return export.export_model(model, tokenizer.backend_tokenizer, destination, model_id or str(checkpoint), fields)
