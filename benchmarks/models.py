"""Image-tower speed of each architecture in the model catalogue, as pixseek installs it.

Speed does not depend on the weights, so each architecture is built with random weights of its
exact shape (Hugging Face CLIP ViT-B/32 at 224 and 256 px, ViT-B/16, SigLIP ViT-B/16 with its
attention-pooling head), exported to ONNX, quantized to int8 as the installer does, and timed
on preprocessed batches of 32 with all cores. Also: a tower exported for one image at a time
(Immich's current exports) run one image per thread, against the same tower taking the batch,
which is what freeing the batch at install buys. The catalogue's images/s come from here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import save, table

BATCH = 32
# Architecture -> the catalogue models that have its image tower.
ARCHITECTURES = {
    "ViT-B/32 224 px": ("clip-vit-b-32, clip-vit-b-32-laion2b, xlm-roberta-base-vit-b-32, mclip-xlm-roberta-large-vit-b-32",
                        dict(patch_size=32, image_size=224)),
    "ViT-B/32 256 px": ("clip-vit-b-32-256-datacomp", dict(patch_size=32, image_size=256)),
    "ViT-B/16 224 px": ("clip-vit-b-16", dict(patch_size=16, image_size=224)),
    "SigLIP ViT-B/16 224 px": ("siglip-vit-b-16", None),
}


def export_tower(name: str, vision: dict | None, destination: Path) -> int:
    """An image tower of the architecture's exact shape, random weights; returns its image size."""
    import warnings

    import torch

    torch.manual_seed(0)
    if vision is None:
        from transformers import SiglipVisionConfig, SiglipVisionModel

        model, size = SiglipVisionModel(SiglipVisionConfig()).eval(), 224
    else:
        from transformers import CLIPConfig, CLIPModel

        model, size = CLIPModel(CLIPConfig(vision_config=vision)).eval(), vision["image_size"]

    class Tower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, pixels):
            if vision is None:
                return self.model(pixel_values=pixels).pooler_output
            return self.model.get_image_features(pixel_values=pixels).pooler_output

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tower(), (torch.zeros(2, 3, size, size),), str(destination), dynamo=False, opset_version=17,
                          input_names=["pixel_values"], output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
    return size


def rate(encode, pixels: np.ndarray, rounds: int) -> float:
    encode(pixels[:BATCH])
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(0, len(pixels), BATCH):
            encode(pixels[i:i + BATCH])
        best = max(best, len(pixels) / (time.perf_counter() - start))
    return best


def bundle_for(folder: Path, tower: Path, size: int, image_batch: int):
    """A bundle around one image tower (the text tower is never loaded here)."""
    import os

    from pixseek.model.bundle import CONFIG_NAME, Bundle, BundleConfig

    folder.mkdir(exist_ok=True)
    os.link(tower, folder / tower.name)
    for name in ("text.onnx", "tokenizer.json"):
        (folder / name).touch()
    config = BundleConfig(model_id="bench/tower", embedding_dim=1, image_size=size, image_model=tower.name,
                          image_batch=image_batch)
    (folder / CONFIG_NAME).write_text(config.to_json())
    return Bundle.load(folder)


def measure(name: str, vision: dict | None, work: Path, count: int, rounds: int) -> dict:
    from pixseek.model.encoder import Encoder
    from pixseek.model.quantize import quantize_tower

    size = export_tower(name, vision, work / "image.onnx")
    quantize_tower(work / "image.onnx", work / "image.int8.onnx")
    pixels = np.random.default_rng(0).standard_normal((count, 3, size, size)).astype(np.float32)
    result = {}
    for precision, tower in (("int8", "image.int8.onnx"), ("fp32", "image.onnx")):
        encoder = Encoder(bundle_for(work / f"batched-{precision}", work / tower, size, 0), device="cpu")
        result[f"{precision}_images_per_s"] = rate(encoder.encode_pixels, pixels, rounds)
    if vision is not None and vision["patch_size"] == 32 and size == 224:
        one = Encoder(bundle_for(work / "one-at-a-time", work / "image.int8.onnx", size, 1), device="cpu")
        result["int8_one_image_per_thread_images_per_s"] = rate(one.encode_pixels, pixels, rounds)
    print(f"{name}: {result}", file=sys.stderr, flush=True)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    count, rounds = (64, 1) if args.quick else (128, 3)
    results = {}
    for name, (models, vision) in ARCHITECTURES.items():
        with tempfile.TemporaryDirectory() as work:
            results[name] = {"models": models, **measure(name, vision, Path(work), count, rounds)}
    rows = [[name, r["int8_images_per_s"], r["fp32_images_per_s"], r["models"]] for name, r in results.items()]
    text = table(f"Image tower alone, preprocessed batches of {BATCH}, all cores (best of {rounds})",
                 ["architecture", "int8 images/s", "fp32 images/s", "catalogue models"], rows)
    b32 = results["ViT-B/32 224 px"]
    text += (f"\nViT-B/32 int8 exported for one image at a time, one image per thread: "
             f"{b32['int8_one_image_per_thread_images_per_s']:.1f} images/s, vs {b32['int8_images_per_s']:.1f} taking the batch")
    save("models", {"quick": args.quick, "batch": BATCH, "architectures": results}, text)
    return results


if __name__ == "__main__":
    main()
