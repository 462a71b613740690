"""Export a Hugging Face CLIP model to a pixseek bundle (needs the `export` extra).

This module and the checkpoint layout (`sources/checkpoint.py`, which loads a checkpoint and
hands it here) are the places that import torch and transformers. The same path serves the real
ViT-B/32 checkpoint, other CLIP-family checkpoints of the same format, and the random-weight
models that tests and benchmarks make (the real weights cannot be downloaded everywhere).
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixseek.errors import ModelInvalid
from pixseek.model.bundle import CONFIG_NAME, Bundle, BundleConfig
from pixseek.model.clip_bpe import VOCAB_FILE, clip_tokenizer

if TYPE_CHECKING:  # the export extra, imported where used
    import torch
    from tokenizers import Tokenizer
    from transformers import CLIPModel

OPSET = 17
# Presets for random-weight models. "vit-b-32" is CLIP ViT-B/32's exact shape (transformers'
# CLIPConfig defaults); "tiny" keeps every layer type with a few small layers, for fast tests.
RANDOM_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2),
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, patch_size=32),
        projection_dim=32,
    ),
    "vit-b-32": dict(),
}


def require_export_extra() -> None:
    """Fail in one line, before any long download or work, when PyTorch or transformers is missing."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise ModelInvalid("exporting needs PyTorch and transformers: pip install 'pixseek[export]'") from None


def random_clip(preset: str = "tiny", seed: int = 0) -> CLIPModel:
    """A CLIPModel with random weights in one of RANDOM_PRESETS' shapes."""
    require_export_extra()
    import torch
    from transformers import CLIPConfig, CLIPModel

    if preset not in RANDOM_PRESETS:
        raise ModelInvalid(f"unknown preset {preset!r}; choose from {', '.join(RANDOM_PRESETS)}")
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(**RANDOM_PRESETS[preset]))
    model.eval()  # type: ignore[no-untyped-call]  # transformers leaves PreTrainedModel.eval unannotated
    return model


def _tower(model: CLIPModel, features: str, input_name: str) -> torch.nn.Module:
    """A module whose forward is one of CLIPModel's feature methods: what one ONNX tower holds."""
    import torch

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            embeds: torch.Tensor = getattr(self.model, features)(**{input_name: inputs}).pooler_output
            return embeds

    return Tower()


def _sizes(model: CLIPModel) -> tuple[int, int, int]:
    """The model's image size, context length and embedding size. transformers types a config's
    fields as what its constructor accepts (dicts, pairs of sizes); a built CLIPModel holds ints."""
    from transformers import CLIPTextConfig, CLIPVisionConfig

    vision, text = model.config.vision_config, model.config.text_config
    if isinstance(vision, CLIPVisionConfig) and isinstance(text, CLIPTextConfig):
        image_size, context_length, dim = vision.image_size, text.max_position_embeddings, model.config.projection_dim
        if isinstance(image_size, int) and isinstance(context_length, int) and isinstance(dim, int):
            return image_size, context_length, dim
    raise ModelInvalid("the model's config does not give one image size, context length and embedding size")


def export_model(model: CLIPModel, tokenizer: Tokenizer, destination: Path, model_id: str,
                 preprocessing: dict[str, Any] | None = None) -> Bundle:
    """Write `model` and `tokenizer` (a `tokenizers.Tokenizer`) as a bundle at `destination`,
    replacing it atomically.

    `preprocessing` may set the bundle's `mean` and `std` (default: CLIP's)."""
    require_export_extra()
    import torch

    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    image_size, context_length, dim = _sizes(model)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        # The tracer warns about Python control flow that is constant for CLIP (shapes checks,
        # argmax pooling); the fidelity tests are what prove the graphs right.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = torch.zeros(2, 3, image_size, image_size)
            torch.onnx.export(
                _tower(model, "get_image_features", "pixel_values"), (pixels,), str(staging / "image.onnx"),
                dynamo=False, opset_version=OPSET, input_names=["pixel_values"], output_names=["image_embeds"],
                dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
            )
            ids = torch.zeros(2, context_length, dtype=torch.long)
            torch.onnx.export(
                _tower(model, "get_text_features", "input_ids"), (ids,), str(staging / "text.onnx"),
                dynamo=False, opset_version=OPSET, input_names=["input_ids"], output_names=["text_embeds"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"}},
            )
        tokenizer.save(str(staging / "tokenizer.json"))
        config = BundleConfig(
            model_id=model_id,
            embedding_dim=dim,
            image_size=image_size,
            context_length=context_length,
            **(preprocessing or {}),
        )
        (staging / CONFIG_NAME).write_text(config.to_json())
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle.load(destination)


def export_random(preset: str, destination: Path, seed: int = 0, vocab_file: Path | None = None) -> Bundle:
    """A random-weight bundle for tests and benchmarks, with CLIP's real tokenizer; its model id
    names preset and seed."""
    model = random_clip(preset, seed)
    return export_model(model, clip_tokenizer(vocab_file or VOCAB_FILE), destination, f"random/{preset}-seed{seed}")
