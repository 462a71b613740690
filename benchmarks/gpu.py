"""The image encoder and indexing on CUDA: the encoder alone per precision and batch size, then
`Library.index` end to end on ~640 px photos and 12 MP JPEGs, with cores busy and GPU memory.

Where ONNX Runtime offers no CUDA provider it says that CUDA is absent and runs the same code on
the CPU at a tiny size (a few images, small batches): `tests/test_pipeline_gpu_bench.py` runs it
so in `make test`, so every line but the CUDA calls themselves is exercised. Left out: the seeds'
PyTorch-CUDA way (it needs a GPU to mean anything) and an fp16 tower (none is made at install).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import MODEL, Meter, camera_corpus, photo_corpus, save, table

CUDA_BATCHES = (32, 128, 256)
CPU_BATCHES = (1, 4)


def cuda_available() -> bool:
    from pixseek.model.sessions import runtime

    return "CUDAExecutionProvider" in runtime().get_available_providers()


def gpu_memory_mib() -> float | None:
    """Memory in use on the first GPU (nvidia-smi), None without one."""
    if shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                          capture_output=True, text=True)
    return float(done.stdout.split()[0]) if done.returncode == 0 and done.stdout.strip() else None


def encoder_alone(model: str | None, device: str, batches: tuple[int, ...], count: int) -> list[dict]:
    """images/s and cores busy of the image tower alone, each precision the bundle has, each batch size."""
    from pixseek.model import Encoder, find_bundle
    from pixseek.model.samples import generated_photo

    bundle = find_bundle(model)
    rows = []
    for precision in sorted(bundle.config.towers("image")):
        encoder = Encoder(bundle, precision=precision, device=device)
        pixels = np.stack([encoder.preprocess(generated_photo(i, (320, 240))) for i in range(count)])
        encoder.encode_pixels(pixels[:1])  # loads the session
        for batch in batches:
            with Meter() as meter:
                for start in range(0, count, batch):
                    encoder.encode_pixels(pixels[start:start + batch])
            rows.append({"precision": precision, "batch": batch, "images_per_s": count / meter.wall,
                         "cores_busy": meter.cpu / meter.wall, "where": encoder.describe()})
    return rows


def end_to_end(model: str | None, folder: Path, device: str) -> dict:
    """`Library.index` of `folder` into a new index with the real encoder on `device`."""
    from pixseek.library import Library

    out = Path(tempfile.mkdtemp())
    try:
        with Library.open(out / "index", model=model, create=True, device=device) as library:
            with Meter() as meter:
                report = library.index([folder])
            memory = gpu_memory_mib()
    finally:
        shutil.rmtree(out)
    return {"photos": report.indexed, "photos_per_s": report.indexed / meter.wall, "cores_busy": meter.cpu / meter.wall,
            "gpu_memory_mib": memory}


def measure(model: str | None, folders: dict[str, Path], cuda: bool, count: int,
            batches: tuple[int, ...] | None = None) -> dict:
    device = "cuda" if cuda else "cpu"
    batches = batches or (CUDA_BATCHES if cuda else CPU_BATCHES)
    return {"cuda": cuda, "encoder": encoder_alone(model, device, batches, count),
            "end_to_end": {name: end_to_end(model, folder, device) for name, folder in folders.items()}}


def report(result: dict) -> str:
    cuda = "CUDA" if result["cuda"] else "CUDA absent: the CPU path at a tiny size"
    encoder = table(f"Image encoder alone ({cuda})", ["precision", "batch", "images/s", "cores busy", "where"],
                    [[r["precision"], r["batch"], r["images_per_s"], r["cores_busy"], r["where"]]
                     for r in result["encoder"]])
    runs = table("Library.index end to end", ["corpus", "photos", "photos/s", "cores busy", "GPU memory MiB"],
                 [[name, r["photos"], r["photos_per_s"], r["cores_busy"],
                   "-" if r["gpu_memory_mib"] is None else r["gpu_memory_mib"]]
                  for name, r in result["end_to_end"].items()])
    return f"{encoder}\n\n{runs}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="installed model name or bundle folder (default: the benchmark's ViT-B/32)")
    parser.add_argument("--photos-dir", type=Path, help="~640 px photos (default: the benchmark's corpus)")
    parser.add_argument("--camera-dir", type=Path, help="12 MP JPEGs (default: the benchmark's corpus)")
    parser.add_argument("--count", type=int, help="images for the encoder alone (default 1,024 on CUDA, 8 on the CPU)")
    parser.add_argument("--no-save", action="store_true", help="print only (no results/gpu.json)")
    args = parser.parse_args(argv)
    cuda = cuda_available()
    model = args.model
    if model is None:
        from benchmarks.common import bench_env

        model = str(Path(bench_env()["PIXSEEK_MODELS"]) / MODEL)
    photos = args.photos_dir or photo_corpus(1024 if cuda else 8)[0]
    camera = args.camera_dir or camera_corpus(256 if cuda else 2)[0]
    result = measure(model, {"photos": photos, "camera": camera}, cuda, args.count or (1024 if cuda else 8))
    text = report(result)
    if args.no_save:
        print(text, flush=True)
    else:
        save("gpu", result, text)
    return result


if __name__ == "__main__":
    main()
