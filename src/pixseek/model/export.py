"""Export a Hugging Face CLIP checkpoint to a pixseek bundle (needs the `export` extra).

This is the one place that imports torch and transformers. The same path serves the real
ViT-B/32 checkpoint, other CLIP-family checkpoints of the same format, and the random-weight
models that tests and benchmarks make (the real weights cannot be downloaded everywhere).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from pixseek.errors import ModelInvalid
from pixseek.model.bundle import CONFIG_NAME, Bundle, BundleConfig, first_line

OPSET = 17
# Presets for random-weight models. "vit-b-32" is CLIP ViT-B/32's exact shape (transformers'
# CLIPConfig defaults); "tiny" keeps every layer type with a few small layers, for fast tests.
RANDOM_PRESETS = {
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


def default_bpe_file() -> Path:
    """OpenAI's BPE vocabulary: $PIXSEEK_CLIP_VOCAB, or where `make install` puts it."""
    path = Path(os.environ.get("PIXSEEK_CLIP_VOCAB") or Path(__file__).resolve().parents[3] / ".cache/clip-vocab/bpe_simple_vocab_16e6.txt.gz")
    if not path.is_file():
        raise ModelInvalid(f"the CLIP BPE vocabulary is not at {path}: set PIXSEEK_CLIP_VOCAB or run `make install`")
    return path


def clip_tokenizer_from_bpe(bpe_file: Path):
    """CLIP's tokenizer from OpenAI's `bpe_simple_vocab_16e6.txt.gz` (the vocabulary open_clip ships).

    The vocabulary is laid out as CLIP's SimpleTokenizer builds it: 256 byte symbols, the same
    with the end-of-word mark, one entry per merge, then the start and end tokens.
    """
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    lines = gzip.open(bpe_file, "rt", encoding="utf-8").read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=merges)


def random_clip(preset: str = "tiny", seed: int = 0):
    """A CLIPModel with random weights in one of RANDOM_PRESETS' shapes."""
    require_export_extra()
    import torch
    from transformers import CLIPConfig, CLIPModel

    if preset not in RANDOM_PRESETS:
        raise ModelInvalid(f"unknown preset {preset!r}; choose from {', '.join(RANDOM_PRESETS)}")
    torch.manual_seed(seed)
    return CLIPModel(CLIPConfig(**RANDOM_PRESETS[preset])).eval()


def _tower(model, features: str, input_name: str):
    """A module whose forward is one of CLIPModel's feature methods: what one ONNX tower holds."""
    import torch

    class Tower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, inputs):
            return getattr(self.model, features)(**{input_name: inputs}).pooler_output

    return Tower()


def export_model(model, tokenizer, destination: Path, model_id: str, preprocessing: dict | None = None) -> Bundle:
    """Write `model` and `tokenizer` as a bundle at `destination`, replacing it atomically.

    `preprocessing` may set the bundle's `mean` and `std` (default: CLIP's)."""
    require_export_extra()
    import torch

    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    vision, text = model.config.vision_config, model.config.text_config
    context_length = text.max_position_embeddings
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        # The tracer warns about Python control flow that is constant for CLIP (shapes checks,
        # argmax pooling); the fidelity tests are what prove the graphs right.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = torch.zeros(2, 3, vision.image_size, vision.image_size)
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
        tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
        config = BundleConfig(
            model_id=model_id,
            embedding_dim=model.config.projection_dim,
            image_size=vision.image_size,
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


def _edge(value) -> int | None:
    """A size from preprocessor_config.json: an int (old files) or a dict (newer ones)."""
    if isinstance(value, dict):
        return value.get("shortest_edge", value.get("height"))
    return value


def checkpoint_preprocessing(checkpoint: str, image_size: int) -> dict:
    """Mean and std from the checkpoint's preprocessor_config.json, after checking that the rest
    is the CLIP preprocessing we reproduce (shortest side to the crop size, bicubic, centre crop)."""
    from transformers.utils import cached_file

    path = cached_file(checkpoint, "preprocessor_config.json", _raise_exceptions_for_missing_entries=False,
                       _raise_exceptions_for_connection_errors=False)
    if path is None:
        return {}
    config = json.loads(Path(path).read_text())
    found = (_edge(config.get("size", image_size)), _edge(config.get("crop_size", image_size)), config.get("resample", 3))
    if found != (image_size, image_size, 3) or not config.get("do_center_crop", True):
        raise ModelInvalid(f"{checkpoint} preprocesses images otherwise than CLIP does (resize, crop, resample = {found}); "
                           f"pixseek reproduces only resize to {image_size}, bicubic, centre crop")
    return {key: tuple(config[field]) for key, field in (("mean", "image_mean"), ("std", "image_std")) if field in config}


def export_checkpoint(checkpoint: str, destination: Path, model_id: str | None = None) -> Bundle:
    """Export a CLIP checkpoint in Hugging Face format (a local folder or a hub id)."""
    require_export_extra()
    from transformers import CLIPModel, CLIPTokenizer

    try:
        model = CLIPModel.from_pretrained(checkpoint).eval()
        tokenizer = CLIPTokenizer.from_pretrained(checkpoint)
    except (OSError, ValueError) as exc:
        raise ModelInvalid(f"cannot load CLIP checkpoint {checkpoint}: {first_line(exc)}") from None
    preprocessing = checkpoint_preprocessing(checkpoint, model.config.vision_config.image_size)
    return export_model(model, tokenizer, destination, model_id or str(checkpoint), preprocessing)


def export_random(preset: str, destination: Path, bpe_file: Path, seed: int = 0) -> Bundle:
    """A random-weight bundle for tests and benchmarks; its model id names preset and seed."""
    model = random_clip(preset, seed)
    return export_model(model, clip_tokenizer_from_bpe(bpe_file), destination, f"random/{preset}-seed{seed}")
