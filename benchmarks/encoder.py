"""The image encoder alone on already-preprocessed tensors: ONNX Runtime fp32 and int8, and the
baseline's PyTorch fp32, in batches of 32, so that the pipeline's own cost is visible.

Also checks that both sides really hold the same weights: ONNX fp32 and PyTorch vectors of the
same tensors must agree (cosine ~1), and says how far int8 moves them.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks.common import MODEL, SEED, Meter, emit, photo_corpus, run_child, save, table

BATCH = 32


def _rate(encode, pixels: np.ndarray, rounds: int) -> float:
    encode(pixels[:2])
    best = 0.0
    for _ in range(rounds):
        with Meter() as meter:
            for i in range(0, len(pixels), BATCH):
                encode(pixels[i:i + BATCH])
        best = max(best, len(pixels) / meter.wall)
    return best


def child(count: int, rounds: int) -> None:
    import torch

    from pixseek.images import open_upright
    from pixseek.model import Encoder, find_bundle
    from pixseek.model.export import random_clip

    folder, _ = photo_corpus(count)
    bundle = find_bundle(MODEL)
    encoders = {p: Encoder(bundle, precision=p, device="cpu") for p in ("fp32", "int8")}
    pixels = np.stack([encoders["fp32"].preprocess(open_upright(str(p), 224)) for p in sorted(folder.glob("*.jpg"))])
    model = random_clip("vit-b-32", SEED)

    def torch_encode(batch):
        with torch.no_grad():
            features = model.get_image_features(pixel_values=torch.from_numpy(batch)).pooler_output
        return torch.nn.functional.normalize(features, dim=-1).numpy()

    reference = torch_encode(pixels[:8])
    same = float(np.min(np.sum(reference * encoders["fp32"].encode_pixels(pixels[:8]), axis=1)))
    int8_cos = float(np.mean(np.sum(reference * encoders["int8"].encode_pixels(pixels[:8]), axis=1)))
    rates = {f"onnxruntime {p}": _rate(e.encode_pixels, pixels, rounds) for p, e in encoders.items()}
    rates["pytorch fp32 (baseline)"] = _rate(torch_encode, pixels, rounds)
    emit({"images": len(pixels), "images_per_s": rates, "min_cosine_onnx_fp32_vs_torch": same,
          "mean_cosine_int8_vs_fp32": int8_cos})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    count, rounds = (64, 2) if args.quick else (128, 3)
    result = run_child(["benchmarks.encoder", "child", str(count), str(rounds)])
    rows = [[name, rate] for name, rate in result["images_per_s"].items()]
    text = table(f"Image encoder alone, preprocessed tensors, batch {BATCH} (best of {rounds})", ["encoder", "images/s"], rows)
    text += (f"\nsame weights: min cosine ONNX fp32 vs PyTorch {result['min_cosine_onnx_fp32_vs_torch']:.6f}; "
             f"int8 vs PyTorch fp32 mean cosine {result['mean_cosine_int8_vs_fp32']:.4f} (random weights)")
    save("encoder", {"quick": args.quick, **result}, text)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
