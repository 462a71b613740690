"""Measure int8 quantization settings of a bundle's towers: speed on this machine and agreement
with fp32 (cosine, top-10 overlap). The figures in docs/model.md come from this.

usage: python scripts/quantization_study.py BUNDLE_DIR [--photos DIR] [--count N] [--text]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from pixseek.model.bundle import Bundle
from pixseek.model.encoder import Encoder
from pixseek.model.quantize import PROBE_CAPTIONS, PROBE_QUERIES, TEXT_CANDIDATES, QuantSettings, compare, quantize_tower
from pixseek.model.samples import sample_photos

VARIANTS = [
    QuantSettings(),
    QuantSettings(weight_type="QUInt8"),
    QuantSettings(per_channel=True),
    QuantSettings(reduce_range=True),
    QuantSettings(weight_type="QUInt8", reduce_range=True),
    QuantSettings(op_types=("MatMul", "Conv")),
    QuantSettings(op_types=("MatMul", "Gemm", "Conv", "Attention")),
]


TEXT_VARIANTS = [QuantSettings(), QuantSettings(per_channel=True), *TEXT_CANDIDATES]


def fp32_copy(source: Bundle, folder: Path) -> Bundle:
    """The bundle's fp32 towers alone, in `folder`."""
    image, text = source.config.towers("image")["fp32"], source.config.towers("text")["fp32"]
    folder.mkdir()
    for name in (image, text, source.config.tokenizer, "pixseek-model.json"):
        shutil.copy(source.path / name, folder / name)
    config = source.config.with_towers("image", {"fp32": image}, "fp32").with_towers("text", {"fp32": text}, "fp32")
    return Bundle(folder, config).save_config(config)


def study_text(bundle: Bundle, rounds: int) -> None:
    """Each text setting: file size, session load, one-query latency, cosine to fp32 on captions."""
    fp32_file = bundle.text_model_path
    variants = {"fp32": fp32_file.name}
    for i, settings in enumerate(TEXT_VARIANTS):
        variants[settings.describe()] = quantize_tower(fp32_file, bundle.path / f"text{i}.onnx", settings).name
    reference = None
    for label, file in variants.items():
        variant = bundle.save_config(bundle.config.with_towers("text", {"fp32": fp32_file.name, "int8": file}, "int8"))
        loads, latencies = [], []
        for _ in range(rounds):
            encoder = Encoder(variant)
            start = time.perf_counter()
            encoder._session("text")
            loads.append(time.perf_counter() - start)
            for _ in range(10):
                start = time.perf_counter()
                encoder.encode_texts(["a dog on a beach"])
                latencies.append(time.perf_counter() - start)
        vectors = encoder.encode_texts(list(PROBE_CAPTIONS))
        reference = vectors if reference is None else reference
        cos = np.sum(vectors * reference, axis=1)
        print(f"{label:32s} {(bundle.path / file).stat().st_size / 1e6:4.0f} MB  load best {min(loads):.3f}s  "
              f"query best {min(latencies) * 1e3:.1f} median {np.median(latencies) * 1e3:.1f} ms  "
              f"cos mean {cos.mean():.5f} min {cos.min():.5f}")


def fused_copy(source: Path, destination: Path, heads: int, hidden: int) -> Path:
    """The fp32 tower with ONNX Runtime's transformer fusions (Attention, LayerNorm, Gelu) applied."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimize_model(str(source), model_type="clip", num_heads=heads, hidden_size=hidden).save_model_to_file(str(destination))
    return destination


def timed_rounds(encoders: dict[str, Encoder], pixels: np.ndarray, rounds: int) -> dict[str, list[float]]:
    """Images/s of each encoder, round-robin, so a busy spell on a shared machine hits all alike."""
    rates: dict[str, list[float]] = {label: [] for label in encoders}
    for _ in range(rounds):
        for label, encoder in encoders.items():
            start = time.perf_counter()
            encoder.encode_pixels(pixels)
            rates[label].append(len(pixels) / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--photos", type=Path)
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--heads", type=int, default=12, help="vision attention heads (ViT-B: 12)")
    parser.add_argument("--hidden", type=int, default=768, help="vision hidden size (ViT-B: 768)")
    parser.add_argument("--text", action="store_true", help="study the text tower instead")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pixseek-quant-"))
    try:
        bundle = fp32_copy(Bundle.load(args.bundle), work / "b")
        if args.text:
            return study_text(bundle, args.rounds)
        fp32 = Encoder(bundle, precision="fp32")
        pixels = np.stack([fp32.preprocess(p) for p in sample_photos(args.photos, args.count)])
        reference = fp32.encode_pixels(pixels)
        queries = fp32.encode_texts(list(PROBE_QUERIES))
        spread = reference @ reference.T
        print(f"fp32 pairwise cosine between different photos: mean {spread[~np.eye(len(spread), dtype=bool)].mean():.4f}")
        fused = fused_copy(bundle.image_model_path(), work / "b" / "image.fused.onnx", args.heads, args.hidden)
        runs = [(s, bundle.image_model_path()) for s in VARIANTS]
        runs += [(QuantSettings(op_types=("MatMul", "Attention")), fused), (None, fused)]
        encoders, rows = {"fp32": fp32}, {"fp32": "351 MB"}
        for i, (settings, src) in enumerate(runs):
            label = (settings.describe() if settings else "fp32") + (" (fused graph)" if src == fused else "")
            out = work / "b" / f"variant{i}.onnx"
            if settings:
                quantize_tower(src, out, settings)
            else:
                shutil.copy(src, out)
            variant = bundle.save_config(replace(bundle.config, image_variants={"int8": out.name}))
            start = time.perf_counter()
            encoders[label] = Encoder(variant, precision="int8")
            candidate = encoders[label].encode_pixels(pixels[:1])
            load = time.perf_counter() - start
            candidate = np.concatenate([encoders[label].encode_pixels(pixels[i : i + args.batch])
                                        for i in range(0, len(pixels), args.batch)])
            mean_cos, min_cos, overlap = compare(reference, candidate, queries)
            rows[label] = (f"{out.stat().st_size / 1e6:4.0f} MB  load {load:.2f}s  "
                           f"cos mean {mean_cos:.5f} min {min_cos:.5f}  top10 {overlap:.3f}")
            print(f"{label:40s} {rows[label]}", flush=True)
        rates = timed_rounds(encoders, pixels[: args.batch], args.rounds)
        base = max(rates["fp32"])
        print(f"\nspeed, batch {args.batch}, {encoders['fp32'].threads} threads, best of {args.rounds} interleaved rounds:")
        for label, values in rates.items():
            print(f"{label:40s} {max(values):6.1f} img/s (median {np.median(values):5.1f})  x{max(values) / base:.2f} vs fp32")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
