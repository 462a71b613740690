"""A Hugging Face CLIP checkpoint in PyTorch format (`openai/clip-vit-base-patch16` and the like),
exported to ONNX here. The one route that needs PyTorch: `pip install 'pixseek[export]'`."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

from pixseek.model.sources.common import prefix_of

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
    # why: export reads a checkpoint's preprocessing as the xenova layout does, so it imports the
    # layouts, this one among them: imported at the top, each would wait for the other.
    from pixseek.model.export import export_checkpoint

    return export_checkpoint(str(folder), workdir, model_id or read_checkpoint_name(folder) or folder.name).path
